"""Several `sms-bridge serve` processes on one database: for scale-out and crash tests."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.emulators import SlackEmulator, TwilioEmulator
from tests.support.bridge import free_port


class Replica:
    """One `python -m bot.cli serve` child process."""

    def __init__(self, env: dict[str, str], log_path: Path, *, port: int | None = None) -> None:
        """`port`: listen where an earlier process did (a restart behind the same address); default a free one."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "PORT": str(self.port), "PUBLIC_URL": self.url}
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self.waiting = False  # a standby process not activated yet

    async def start(self, *, standby: bool = False) -> None:
        """Start the process; `standby`: load it, but serve only once `go()` is called (see tests.support.standby)."""
        log = self.log_path.open("ab")
        self.waiting = standby
        command = ("tests.support.standby",) if standby else ("bot.cli", "serve")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            *command,
            env={**os.environ, **self.env},
            stdin=asyncio.subprocess.PIPE if standby else None,
            stdout=log,
            stderr=log,
        )

    async def activate(self, timeout: float = 120.0) -> None:
        """A standby process starts serving; returns once it is ready (it may still be loading its modules)."""
        self.process.stdin.write(b"go\n")
        self.waiting = False
        await self.ready(timeout)

    async def ready(self, timeout: float = 60.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(self.url + "/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if self.process.returncode is not None:
                    raise AssertionError(f"replica exited: {self.log_path.read_text()[-2000:]}")
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"replica not ready: {self.log_path.read_text()[-2000:]}")
                await asyncio.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, claims left as they were."""
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def replica_env(
    *, database_url: str, slack: SlackEmulator, twilio: TwilioEmulator, config_path: Path
) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_API_URL": slack.url,
        "DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_API_URL": twilio.url,
        "SMS_BRIDGE_CONFIG": str(config_path),
        "LOG_LEVEL": "WARNING",
    }
