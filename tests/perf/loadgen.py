"""Shared pieces of the HTTP benchmarks: open-loop load, percentiles, a bridge subprocess, bare servers."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import aiohttp
from aiohttp import web


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
        except (aiohttp.ClientError, asyncio.TimeoutError):
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
