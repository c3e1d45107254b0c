"""Messages API benchmark (run on demand; pytest ignores tests/perf).

    python -m tests.perf.bench_api --db postgres                      # rates 25..800/s, 20 s each
    python -m tests.perf.bench_api --db postgres --rates 25,50,100,200 --duration 5

A real `sms-bridge serve` (own process, an API key made with `sms-bridge api-key create`) takes
`POST /api/v1/messages` at rising rates (open loop), beside a bare aiohttp handler (own process) that parses the
same JSON and answers the same 202 shape, under the same load in the same run. The load comes from a process of
its own, so that the emulators (which take the bridge's Slack posts and carrier calls) do not delay it. Reported
per rate: accepted
requests per second and the answer p50/p99 of both; then the highest rate each holds with every request
accepted and p99 <= 50 ms, and the ratio of the two (the bare handler's is a lower bound when it holds every
rate tried).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import sys

import aiohttp
from aiohttp import web

from tests.emulators import SlackEmulator, TwilioEmulator
from tests.perf.loadgen import BridgeProcess, open_loop, percentile, wait_http
from tests.support.bridge import DEFAULT_CONFIG, free_port

RATES = (25, 50, 100, 200, 400, 800)
CUSTOMERS = [f"+1415555{1000 + i:04d}" for i in range(50)]
P99_LIMIT = 0.050
CONFIG = DEFAULT_CONFIG + '\n[templates]\norder_shipped = "Hi {first_name|there}, order {order_id} has shipped"\n'


def _bare_api_server(port: int, ready) -> None:
    """A bare handler: parse the JSON, answer 202 with an id. Nothing checked, nothing stored."""

    async def messages(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        answer = {"id": "msg_" + secrets.token_hex(12), "status": "queued", "segments": 1, "encoding": "GSM-7"}
        answer["to"] = body.get("to")
        return web.json_response(answer, status=202)

    app = web.Application()
    app.router.add_post("/api/v1/messages", messages)
    app.router.add_get("/", lambda request: web.Response())
    ready.set()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def start_bare_api(port: int) -> multiprocessing.Process:
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=_bare_api_server, args=(port, ready), daemon=True)
    process.start()
    ready.wait(30)
    return process


async def make_key(env: dict[str, str]) -> str:
    """A key made as an operator makes one: `sms-bridge api-key create`, against the bridge's database."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "api-key",
        "create",
        "bench",
        "--scopes",
        "messages",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    return next(line.split()[-1] for line in out.decode().splitlines() if "token:" in line)


def sender(http: aiohttp.ClientSession, url: str, token: str | None, tag: str):
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}

    async def send(i: int) -> bool:
        body = {
            "to": CUSTOMERS[i % len(CUSTOMERS)],
            "template": "order_shipped",
            "variables": {"order_id": f"{tag}-{i}"},
            "metadata": {"order": i},
        }
        async with http.post(url, data=json.dumps(body), headers=headers) as resp:
            await resp.read()
            return resp.status == 202

    return send


def _load(url: str, token: str | None, tag: str, rate: float, duration: float, results) -> None:
    """One open-loop run, in a process of its own; its latencies and failures go to `results`."""

    async def run() -> tuple[list[float], int]:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
            return await open_loop(rate, duration, sender(http, url, token, tag))

    results.put(asyncio.run(run()))


async def load(url: str, token: str | None, tag: str, rate: float, duration: float) -> tuple[list[float], int]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_load, args=(url, token, tag, rate, duration, results), daemon=True)
    process.start()
    outcome = await asyncio.get_running_loop().run_in_executor(None, results.get)
    process.join(10)
    return outcome


async def main(db: str, duration: float, rates: tuple[int, ...]) -> None:
    slack = SlackEmulator()
    twilio = TwilioEmulator(auto_status=None)
    await slack.start()
    await twilio.start()
    process = BridgeProcess(slack, twilio, db, CONFIG)
    bridge = await process.__aenter__()
    bare_port = free_port()
    bare = start_bare_api(bare_port)
    await wait_http(f"http://127.0.0.1:{bare_port}/")
    token = await make_key(bridge.env)
    held: dict[str, int | None] = {"bridge": None, "bare": None}
    try:
        targets = {
            "bridge": (bridge.url + "/api/v1/messages", token),
            "bare": (f"http://127.0.0.1:{bare_port}/api/v1/messages", None),
        }
        for rate in rates:
            for name, (url, key) in targets.items():
                latencies, failures = await load(url, key, f"{name}{rate}", rate, duration)
                p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
                ok = failures == 0 and p99 <= P99_LIMIT
                if ok:
                    held[name] = rate
                print(
                    f"[{db}] {rate:4d}/s {name:6s}: {len(latencies) / duration:7.1f} accepted/s, "
                    f"p50 {p50 * 1000:6.1f} ms, p99 {p99 * 1000:6.1f} ms, {failures} refused or failed"
                    + ("" if ok else "  (over the limit)"),
                    flush=True,
                )
                await asyncio.sleep(1)  # let the queues drain between runs
        top = max(rates)
        bridge_held, bare_held = held["bridge"], held["bare"]
        print(f"[{db}] held with p99 <= 50 ms: bridge {bridge_held or 0}/s, bare {bare_held or 0}/s")
        if bridge_held and bare_held:
            bound = " (at most: the bare handler held every rate tried)" if bare_held == top else ""
            print(f"[{db}] ratio bridge/bare: {bridge_held / bare_held:.2f}{bound}")
    finally:
        await process.__aexit__()
        bare.terminate()
        await slack.stop()
        await twilio.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--rates", default=",".join(map(str, RATES)))
    args = parser.parse_args()
    asyncio.run(main(args.db, args.duration, tuple(int(r) for r in args.rates.split(","))))
