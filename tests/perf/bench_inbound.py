"""Inbound webhook benchmark (run on demand; pytest ignores tests/perf).

    python -m tests.perf.bench_inbound                       # SQLite, rates 25..800/s, 30 s each
    python -m tests.perf.bench_inbound --db postgres --duration 10
    python -m tests.perf.bench_inbound --customers 50 --rates 50 --duration 1   # a burst of 50 new customers

A real `sms-bridge serve` (own process) takes signed Twilio inbound webhooks at rising rates (open loop), beside
a bare aiohttp handler (own process) that only reads the form and answers TwiML, under the same load in the same
run. Reported: acknowledgement p50/p99 for both, the highest rate the bridge holds with p99 <= 50 ms, and the
time until every text is visible in the Slack emulator, which enforces Slack's one post per second per channel,
and the posts that took (each new customer's first text travels in its root card).
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from twilio.request_validator import RequestValidator

from tests.emulators import SlackEmulator, TwilioEmulator
from tests.perf.loadgen import BridgeProcess, open_loop, percentile, start_bare_server, wait_http
from tests.support.bridge import CHANNEL, DEFAULT_CONFIG, LINE, free_port, thread_texts

RATES = (25, 50, 100, 200, 400, 800)
CUSTOMERS = 20


def signed_sender(http: aiohttp.ClientSession, base_url: str, auth_token: str, prefix: str, customers: list[str]):
    validator = RequestValidator(auth_token)
    url = base_url + "/sms/twilio/inbound"

    async def send(i: int) -> bool:
        sid = f"SM{prefix}{i:0{32 - len(prefix)}d}"  # unique per request: a repeated sid is a retry
        params = {
            "MessageSid": sid,
            "AccountSid": "AC" + "1" * 32,
            "From": customers[i % len(customers)],
            "To": LINE,
            "Body": f"{prefix} text {i}",
            "NumMedia": "0",
        }
        headers = {"X-Twilio-Signature": validator.compute_signature(url, params)}
        async with http.post(url, data=params, headers=headers) as resp:
            await resp.read()
            return resp.status == 200

    return send


async def main(db: str, duration: float, rates: tuple[int, ...], customer_count: int) -> None:
    customers = [f"+1415555{1000 + i:04d}" for i in range(customer_count)]
    slack = SlackEmulator(channel_rate_per_sec=1)
    twilio = TwilioEmulator(auto_status=None)
    await slack.start()
    await twilio.start()
    process = BridgeProcess(slack, twilio, db, DEFAULT_CONFIG)
    bridge = await process.__aenter__()
    bare_port = free_port()
    bare = start_bare_server(bare_port)
    await wait_http(f"http://127.0.0.1:{bare_port}/")
    held, total_sent = None, 0
    print(f"[{db}] rate/s | bridge p50 / p99 ms (failed) | bare p50 / p99 ms")
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            for rate in rates:
                bridge_lat, bridge_fail = await open_loop(
                    rate, duration, signed_sender(http, bridge.url, twilio.auth_token, f"B{rate}", customers)
                )
                bare_lat, _ = await open_loop(
                    rate,
                    duration,
                    signed_sender(http, f"http://127.0.0.1:{bare_port}", twilio.auth_token, f"X{rate}", customers),
                )
                total_sent += int(rate * duration)
                p99 = percentile(bridge_lat, 99) * 1000
                print(
                    f"[{db}] {rate:6d} | {percentile(bridge_lat, 50) * 1000:6.1f} / {p99:6.1f} ({bridge_fail}) | "
                    f"{percentile(bare_lat, 50) * 1000:6.1f} / {percentile(bare_lat, 99) * 1000:6.1f}",
                    flush=True,
                )
                if p99 <= 50 and not bridge_fail:
                    held = rate
                else:
                    break
            loop = asyncio.get_running_loop()
            started = loop.time()

            def visible() -> int:
                return sum(len(thread_texts(slack, CHANNEL, root["ts"])) for root in slack.roots(CHANNEL))

            while visible() < total_sent and loop.time() - started < 600:
                await asyncio.sleep(0.5)
            print(
                f"[{db}] highest rate held with p99 <= 50 ms: {held}/s; every one of {total_sent} texts visible in "
                f"Slack {loop.time() - started:.1f} s after the load stopped ({visible()} seen, "
                f"{len(slack.messages[CHANNEL])} posts: {len(slack.roots(CHANNEL))} root cards for "
                f"{len(customers)} customers, {len(slack.messages[CHANNEL]) - len(slack.roots(CHANNEL))} in threads)",
                flush=True,
            )
    finally:
        await process.__aexit__()
        bare.terminate()
        await slack.stop()
        await twilio.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--rates", default=",".join(map(str, RATES)))
    parser.add_argument("--customers", type=int, default=CUSTOMERS, help="distinct numbers texting (default 20)")
    args = parser.parse_args()
    asyncio.run(main(args.db, args.duration, tuple(int(r) for r in args.rates.split(",")), args.customers))
