"""Idle memory of `sms-bridge serve` beside a bare aiohttp server (run on demand; pytest ignores tests/perf).

    python -m tests.perf.bench_memory                 # SQLite
    python -m tests.perf.bench_memory --db postgres

A real `sms-bridge serve` (own process, against the Slack and Twilio emulators, its workers and scans running)
and, in the same run, a bare aiohttp server in its own process, each left idle for `--idle` seconds after it
answers; then each one's resident memory (VmRSS) is read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from tests.emulators import SlackEmulator, TwilioEmulator
from tests.perf.loadgen import BridgeProcess, wait_http
from tests.support.bridge import DEFAULT_CONFIG, free_port

# The bare server is a program of its own, so that it imports aiohttp and nothing of this module's.
BARE_SERVER = """
import sys

from aiohttp import web


async def healthz(request):
    return web.json_response({"status": "ok"})

app = web.Application()
app.router.add_get("/healthz", healthz)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def main(db: str, idle: float) -> None:
    slack, twilio = SlackEmulator(), TwilioEmulator()
    await slack.start()
    await twilio.start()
    port = free_port()
    bare = await asyncio.create_subprocess_exec(sys.executable, "-c", BARE_SERVER, str(port))
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz")
        async with BridgeProcess(slack, twilio, db, DEFAULT_CONFIG) as bridge:
            await asyncio.sleep(idle)
            ours, baseline = rss_mb(bridge.process.pid), rss_mb(bare.pid)
        print(
            f"idle RSS after {idle:.0f} s ({db}): sms-bridge {ours:.0f} MB, bare aiohttp {baseline:.0f} MB, "
            f"ratio {ours / baseline:.1f}"
        )
    finally:
        bare.terminate()
        await bare.wait()
        await slack.stop()
        await twilio.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds each process sits idle before the reading")
    args = parser.parse_args()
    asyncio.run(main(args.db, args.idle))
