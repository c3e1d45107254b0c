"""A small Chrome DevTools Protocol client over one WebSocket (aiohttp), enough to drive a headless page.

`Browser.launch()` starts Debian's chromium headless on a free DevTools port (read from the DevToolsActivePort
file it writes into its profile directory); `browser.open(url)` creates a tab and attaches to it (flat
sessions), giving a `Page` with `evaluate`, `wait_for` and `screenshot`.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--remote-debugging-port=0",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
)


def find_chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


class CDPError(Exception):
    pass


class Browser:
    def __init__(
        self, process: asyncio.subprocess.Process, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse
    ) -> None:
        self.process = process
        self._http = http
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self.events: list[dict] = []  # every event received (method, params, sessionId)
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def launch(cls, profile_dir: Path, *, executable: str | None = None, timeout: float = 30.0) -> Browser:
        executable = executable or find_chromium()
        if executable is None:
            raise CDPError("chromium is not installed")
        profile_dir.mkdir(parents=True, exist_ok=True)
        port_file = profile_dir / "DevToolsActivePort"
        port_file.unlink(missing_ok=True)  # a reused profile keeps the last run's port
        process = await asyncio.create_subprocess_exec(
            executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile_dir}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            lines = port_file.read_text().split("\n") if port_file.exists() else []
            if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                break
            if process.returncode is not None:
                raise CDPError(f"chromium exited with code {process.returncode} before opening DevTools")
            if loop.time() > deadline:
                process.kill()
                await process.wait()
                raise CDPError(f"chromium did not write {port_file} within {timeout}s")
            await asyncio.sleep(0.05)
        http = aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}", max_msg_size=0)
        except aiohttp.ClientError:
            await http.close()
            process.kill()
            await process.wait()
            raise
        return cls(process, http, ws)

    async def _read(self) -> None:
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    if "error" in data:
                        future.set_exception(CDPError(f"{data['error'].get('message')} ({data['error'].get('code')})"))
                    else:
                        future.set_result(data.get("result", {}))
            else:
                self.events.append(data)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CDPError("the DevTools connection closed"))

    async def send(
        self, method: str, params: dict | None = None, *, session_id: str | None = None, timeout: float = 30.0
    ) -> dict:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        future = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        await self._ws.send_str(json.dumps(message))
        return await asyncio.wait_for(future, timeout)

    async def open(self, url: str, *, width: int = 1440, height: int = 900) -> Page:
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = Page(self, attached["sessionId"])
        await page.send("Runtime.enable")
        await page.send("Page.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        await page.send("Page.navigate", {"url": url})
        return page

    async def close(self) -> None:
        try:
            await self.send("Browser.close", timeout=5)
        except (TimeoutError, CDPError, ConnectionError):
            pass
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        await self._ws.close()
        await self._http.close()
        self._reader.cancel()


class Page:
    def __init__(self, browser: Browser, session_id: str) -> None:
        self.browser = browser
        self.session_id = session_id

    async def send(self, method: str, params: dict | None = None, **kwargs: Any) -> dict:
        return await self.browser.send(method, params, session_id=self.session_id, **kwargs)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited); a thrown exception raises CDPError."""
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CDPError(f"{expression[:80]!r} threw: {details.get('exception', {}).get('description') or details}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str, *, timeout: float = 20.0) -> None:
        """Poll `expression` until it is truthy (in JavaScript's sense); fail naming `what` otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if await self.evaluate(f"!!({expression})"):
                return
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; page errors: {self.errors()}")
            await asyncio.sleep(0.1)

    def errors(self) -> list[str]:
        """Uncaught exceptions and console.error calls of this page so far."""
        found = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session_id:
                continue
            if event["method"] == "Runtime.exceptionThrown":
                details = event["params"]["exceptionDetails"]
                found.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif event["method"] == "Runtime.consoleAPICalled" and event["params"]["type"] == "error":
                found.append(" ".join(str(a.get("value", a.get("description", ""))) for a in event["params"]["args"]))
        return found

    async def screenshot(self, path: Path) -> None:
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
