"""Shared pieces of the HTTP benchmarks: open-loop load, percentiles, a bridge subprocess, bare servers."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.support.postgres import create_database, drop_database
from tests.support.replicas import Replica, replica_env


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def open_loop(rate: float, duration: float, send) -> tuple[list[float], int]:
    """Call `send(i)` at `rate` per second for `duration` seconds, whatever the answers' pace (open loop).

    Returns the latencies (seconds) of the calls that succeeded and the count of failures."""
    latencies: list[float] = []
    failures = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []

    async def one(i: int) -> None:
        nonlocal failures
        began = time.perf_counter()
        try:
            ok = await send(i)
        except (TimeoutError, aiohttp.ClientError):
            ok = False
        if ok:
            latencies.append(time.perf_counter() - began)
        else:
            failures += 1

    for i in range(int(rate * duration)):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return latencies, failures


def _bare_twiml_server(port: int, ready) -> None:
    """A bare aiohttp handler: read the form, answer empty TwiML. Nothing stored, nothing checked."""

    async def inbound(request: web.Request) -> web.Response:
        await request.post()
        return web.Response(text='<?xml version="1.0" encoding="UTF-8"?><Response></Response>', content_type="text/xml")

    app = web.Application()
    app.router.add_post("/sms/twilio/inbound", inbound)
    ready.set()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def start_bare_server(port: int) -> multiprocessing.Process:
    ready = multiprocessing.get_context("spawn").Event()
    process = multiprocessing.get_context("spawn").Process(target=_bare_twiml_server, args=(port, ready), daemon=True)
    process.start()
    ready.wait(30)
    return process


async def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class BridgeProcess:
    """A real `sms-bridge serve` in its own process against the given emulators, on SQLite or PostgreSQL."""

    def __init__(self, slack, twilio, db: str, config: str) -> None:
        self.slack, self.twilio, self.db, self.config = slack, twilio, db, config
        self.db_name = f"bench_{os.getpid()}"
        self.replica = None

    async def __aenter__(self):
        tmp = Path(tempfile.mkdtemp())
        config_path = tmp / "sms-bridge.toml"
        config_path.write_text(self.config)
        url = await create_database(self.db_name) if self.db == "postgres" else f"sqlite+aiosqlite:///{tmp}/bench.db"
        self.replica = Replica(
            replica_env(database_url=url, slack=self.slack, twilio=self.twilio, config_path=config_path),
            tmp / "bridge.log",
        )
        await self.replica.start()
        await self.replica.ready()
        return self.replica

    async def __aexit__(self, *exc_info) -> None:
        await self.replica.stop()
        if self.db == "postgres":
            await drop_database(self.db_name)
