"""Slack thread reply -> carrier request latency (run on demand; pytest ignores tests/perf).

    python -m tests.perf.bench_reply                 # SQLite, 200 replies
    python -m tests.perf.bench_reply --db postgres -n 500

An agent's reply is delivered as a signed Slack `message` event to a real `sms-bridge serve` (own process); the
latency runs until the Twilio emulator receives the send for that text. Beside it, in the same run, a bare
aiohttp handler (own process) that takes the same event and posts it straight to the same emulator.
Replies are spaced 50 ms apart (open loop; --gap changes it), below the carrier rate, so queueing does not dominate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.emulators import SlackEmulator, TwilioEmulator
from tests.perf.loadgen import BridgeProcess, percentile, wait_http
from tests.support.bridge import AGENT, CHANNEL, DEFAULT_CONFIG, LINE, free_port

CUSTOMER = "+14155557000"


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _bare_relay(port: int, twilio_url: str, sid: str, token: str) -> None:
    """A bare handler: Slack event in, Twilio send out. No signature check, no storage, no gate."""

    async def events(request: web.Request) -> web.Response:
        event = json.loads(await request.read())["event"]
        async with request.app["http"].post(
            f"{twilio_url}/2010-04-01/Accounts/{sid}/Messages.json",
            data={"To": CUSTOMER, "From": LINE, "Body": event["text"]},
            headers={"Authorization": aiohttp.encode_basic_auth(sid, token)},
        ) as resp:
            await resp.read()
        return web.Response()

    async def session(app):
        app["http"] = aiohttp.ClientSession()
        yield
        await app["http"].close()

    app = web.Application()
    app.cleanup_ctx.append(session)
    app.router.add_post("/slack/events", events)
    app.router.add_get("/", lambda r: web.Response())
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def measure(
    slack: SlackEmulator, twilio: TwilioEmulator, events_url: str, thread_ts: str, n: int, tag: str, gap: float
) -> list[float]:
    sent_at: dict[str, float] = {}
    for i in range(n):
        text = f"{tag} reply {i}"
        sent_at[text] = time.monotonic()
        event = {
            "type": "message",
            "channel": CHANNEL,
            "user": AGENT,
            "text": text,
            "ts": f"{1800000000 + i}.{tag == 'bare':06d}",
            "thread_ts": thread_ts,
            "channel_type": "channel",
            "event_ts": f"{1800000000 + i}.000001",
        }
        asyncio.create_task(slack.send_event(events_url, event))
        await asyncio.sleep(gap)
    await twilio.wait_for(lambda: sum(1 for m in twilio.sent if m["body"] in sent_at) >= n, timeout=120)
    return [m["at"] - sent_at[m["body"]] for m in twilio.sent if m["body"] in sent_at]


async def main(db: str, n: int, gap: float) -> None:
    slack, twilio = SlackEmulator(), TwilioEmulator(auto_status=None)
    await slack.start()
    await twilio.start()

    process = BridgeProcess(slack, twilio, db, DEFAULT_CONFIG)
    bridge = await process.__aenter__()
    port = free_port()
    bare = multiprocessing.get_context("spawn").Process(
        target=_bare_relay, args=(port, twilio.url, twilio.account_sid, twilio.auth_token), daemon=True
    )
    bare.start()
    await wait_http(f"http://127.0.0.1:{port}/")
    try:
        await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="hello")
        await slack.wait_for(lambda: slack.roots(CHANNEL), timeout=30)
        thread_ts = slack.roots(CHANNEL)[0]["ts"]
        cpu_before = process_cpu_seconds(bridge.process.pid)
        bridge_lat = await measure(slack, twilio, bridge.url + "/slack/events", thread_ts, n, "bridge", gap)
        await asyncio.sleep(2)  # what each reply leaves to do after its send (its card, its reactions) is done
        cpu_ms = 1000 * (process_cpu_seconds(bridge.process.pid) - cpu_before) / n
        bare_lat = await measure(slack, twilio, f"http://127.0.0.1:{port}/slack/events", thread_ts, n, "bare", gap)
        for name, values in (("bridge", bridge_lat), ("bare", bare_lat)):
            print(
                f"[{db}] {name:6s}: reply -> carrier p50 {percentile(values, 50) * 1000:6.1f} ms, "
                f"p99 {percentile(values, 99) * 1000:6.1f} ms ({len(values)} replies)"
            )
        print(f"[{db}] ratio of p50s (bridge/bare): {percentile(bridge_lat, 50) / percentile(bare_lat, 50):.1f}")
        print(f"[{db}] bridge CPU per reply, all it does for one included: {cpu_ms:.1f} ms")
    finally:
        await process.__aexit__()
        bare.terminate()
        await slack.stop()
        await twilio.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between replies (default 0.05)")
    args = parser.parse_args()
    asyncio.run(main(args.db, args.n, args.gap))
