"""Campaign throughput benchmark (run on demand; pytest ignores tests/perf).

    .venv/bin/python -m tests.perf.bench_campaign                 # 20,000 recipients, SQLite and PostgreSQL
    .venv/bin/python -m tests.perf.bench_campaign --large         # 100,000 recipients
    .venv/bin/python -m tests.perf.bench_campaign -n 5000 --db sqlite --rounds 1
    .venv/bin/python -m tests.perf.bench_campaign -n 6000 --mps 100    # throttled: per-second counts
    .venv/bin/python -m tests.perf.bench_campaign -n 1000000 --db postgres --no-baseline   # memory
    .venv/bin/python -m tests.perf.bench_campaign --text "$(python -c 'print("Hi {first_name}! " + "x" * 280)')"
    BENCH_SENDER='{"batch_size": 100}' .venv/bin/python -m tests.perf.bench_campaign   # try sender options

Contacts are seeded as the CSV importer writes them (phones validated as E.164, so marked checked).
The Twilio emulator runs in a separate process (no delivery callbacks, so only the send path is measured).
The bridge runs unthrottled (line mps 10000, sender rate override) with a transactional campaign, so every
recipient is materialised, queued through queue_sms, claimed, gated and sent. In the same run a bare aiohttp
client loop posts the same number of identical requests to the same emulator at the same concurrency (100, the
sender's default number of carrier connections); the ratio of the two throughputs is printed, with the bench
process's peak RSS (the emulator process excluded). A shared machine's speed drifts from one minute to the
next, so this is done in rounds (--rounds, default 3), each campaign beside its own baseline, and the median
ratio is the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from types import SimpleNamespace
from urllib.parse import urlencode

import aiohttp
from sqlalchemy import insert

from tests.support.postgres import create_database, drop_database

CONCURRENCY = 100
TEXT = "Hello {first_name}"  # the campaign's template (--text)


def _emulator_process(queue, stop) -> None:
    from tests.emulators import TwilioEmulator

    async def main():
        emulator = TwilioEmulator(auto_status=None)
        await emulator.start()
        queue.put((emulator.url, emulator.account_sid, emulator.auth_token))
        while not stop.is_set():
            await asyncio.sleep(0.2)
            if emulator.sent:  # keep memory flat in the emulator too: we only need counts
                queue.put(("count", len(emulator.sent), emulator.per_second_counts()))
                emulator.sent.clear()
                emulator.resources.clear()
                emulator.requests.clear()
        await emulator.stop()

    asyncio.run(main())


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def bare_loop(url: str, sid: str, token: str, n: int, text: str = TEXT) -> tuple[float, float]:
    """Requests per second, and this process's CPU milliseconds per request. The bodies are `text` (the
    campaign's template) with the recipient's name in it and the footer, as the bridge's are."""
    endpoint = f"{url}/2010-04-01/Accounts/{sid}/Messages.json"
    # The same bytes the bridge sends: the form encoded once, Basic auth as a session header.
    headers = {
        "Authorization": aiohttp.encode_basic_auth(sid, token),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    queue: asyncio.Queue = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def client(http):
        while not queue.empty():
            i = queue.get_nowait()
            form = {
                "To": f"+1212{5550000 + i % 10000:07d}",
                "Body": text.replace("{first_name}", f"P{i}") + "\nReply STOP to opt out",
                "From": "+14155550199",
                "StatusCallback": "http://127.0.0.1:9/sms/twilio/status",
            }
            async with http.post(endpoint, data=urlencode(form).encode()) as resp:
                assert resp.status == 201, await resp.text()
                await resp.read()

    started, cpu_started = time.perf_counter(), time.process_time()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY), headers=headers) as http:
        await asyncio.gather(*(client(http) for _ in range(CONCURRENCY)))
    return n / (time.perf_counter() - started), 1000 * (time.process_time() - cpu_started) / n


async def autovacuum_stand_in(url: str, every: float = 15.0) -> None:
    """This machine's PostgreSQL runs with autovacuum off; a production server has it on. Without it, a queue
    table's dead rows and missing statistics make the planner's cached plans scan the whole table, so the bench
    does what autovacuum would: VACUUM ANALYZE the busy tables now and then."""
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    while True:
        await asyncio.sleep(every)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("VACUUM ANALYZE messages, campaign_recipients, rate_slots")
        finally:
            await conn.close()


async def database_url(kind: str, tmp: str) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp}/bench.db"
    return await create_database(f"sms_bridge_bench_{os.getpid()}")


async def run_campaign(kind: str, n: int, twilio, counter, mps: int | None = None, text: str = TEXT) -> dict:
    from bot.campaigns import service
    from storage.db import Database
    from storage.migrate import upgrade
    from storage.models import Contact
    from storage.models.campaigns import Campaign
    from tests.emulators import SlackEmulator
    from tests.support.bridge import ADMIN, APPROVER, DEFAULT_CONFIG, Bridge

    with tempfile.TemporaryDirectory() as tmp:
        url = await database_url(kind, tmp)
        db = Database(url)
        await upgrade(db.engine)
        async with db.engine.begin() as conn:
            for start in range(0, n, 5000):
                await conn.execute(
                    insert(Contact),
                    [
                        {
                            "phone": f"+1212{5550000 + i:07d}" if i < 10000 else f"+1646{5550000 + i - 10000:07d}",
                            "first_name": f"P{i}",
                            "last_name": "",
                            "number_status": "ok",
                            "number_status_reason": "",
                            "phone_checked": True,
                        }
                        for i in range(start, min(n, start + 5000))
                    ],
                )
        await db.dispose()
        slack = SlackEmulator()
        await slack.start()
        config = DEFAULT_CONFIG.replace("mps = 50", f"mps = {mps or 10000}")
        sender = {"concurrency": CONCURRENCY} if mps else {"rate_override": 1e9, "concurrency": CONCURRENCY}
        sender.update(json.loads(os.environ.get("BENCH_SENDER", "{}")))
        bridge = Bridge(
            database_url=url,
            slack=slack,
            twilio=twilio,
            tmp_path=__import__("pathlib").Path(tmp),
            config=config,
            sender_options=sender,
            outbox_options={"post_interval": 0.0},
            freeze_gc=True,  # as `sms-bridge serve` does: what startup made is out of the collector's sight
        )
        await bridge.start()
        services = bridge.services
        maintenance = asyncio.create_task(autovacuum_stand_in(url)) if kind == "postgres" else None
        rss_before = rss_mb()
        draft, errors = service.validate(
            services,
            {
                "name": "bench",
                "to": "all",
                "purpose": "transactional",
                "text": text,
                "line": "+14155550199",
            },
        )
        assert not errors, errors
        campaign = await service.create(services, ADMIN, draft)
        t0 = time.perf_counter()
        while True:
            async with services.db.session() as session:
                state = (await session.get(Campaign, campaign.id)).state
            if state == "pending_approval":
                break
            await asyncio.sleep(0.1)
        preview_s = time.perf_counter() - t0
        counter["sent"], counter["seconds"] = 0, {}
        await service.approve(services, campaign.id, APPROVER)
        started, cpu_started = time.perf_counter(), time.process_time()
        peak = rss_mb()
        while counter["sent"] < n:
            await asyncio.sleep(0.2)
            peak = max(peak, rss_mb())
            if time.perf_counter() - started > 3600:
                raise RuntimeError(f"only {counter['sent']} of {n} sent")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if maintenance is not None:
            maintenance.cancel()
        await bridge.stop()
        await slack.stop()
        if kind == "postgres":
            await drop_database(f"sms_bridge_bench_{os.getpid()}")
        return {
            "rate": n / elapsed,
            "elapsed": elapsed,
            "cpu_ms": 1000 * cpu / n,
            "preview_s": preview_s,
            "rss_before": rss_before,
            "rss_peak_campaign": peak,
        }


def rate_report(seconds: dict[int, int], mps: int) -> str:
    """Achieved rate over the whole seconds of the run (first and last are partial) and the busiest second."""
    ordered = [seconds[k] for k in sorted(seconds)]
    inner = ordered[1:-1] or ordered
    return (
        f"line limit {mps} MPS: achieved {sum(inner) / len(inner):.1f} MPS over {len(inner)} whole seconds; "
        f"busiest second {max(ordered)}; seconds over the limit: {sum(1 for c in ordered if c > mps)}; "
        f"quietest whole second {min(inner)}\nper second: {' '.join(map(str, ordered))}"
    )


async def main(
    n: int, kinds: list[str], mps: int | None = None, baseline: bool = True, text: str = TEXT, rounds: int = 3
) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue, stop = ctx.Queue(), ctx.Event()
    process = ctx.Process(target=_emulator_process, args=(queue, stop), daemon=True)
    process.start()
    url, sid, token = await asyncio.get_running_loop().run_in_executor(None, queue.get)
    twilio = SimpleNamespace(url=url, account_sid=sid, auth_token=token)
    counter = {"sent": 0, "seconds": {}}

    async def count():
        loop = asyncio.get_running_loop()
        while True:
            item = await loop.run_in_executor(None, queue.get)
            if item is None:
                return
            counter["sent"] += item[1]
            for second, sends in item[2].items():
                counter["seconds"][second] = counter["seconds"].get(second, 0) + sends

    counting = asyncio.create_task(count())
    try:
        print(f"recipients: {n:,}; sender concurrency {CONCURRENCY}; emulator in process {process.pid}")
        compared = not mps and baseline  # beside the bare loop, in rounds
        for kind in kinds:
            ratios = []
            for round_ in range(1, (rounds if compared else 1) + 1):
                result = await run_campaign(kind, n, twilio, counter, mps, text)
                if mps:
                    print(f"[{kind}] throttled campaign of {n:,}: {rate_report(counter['seconds'], mps)}")
                    continue
                figures = (
                    f"campaign {result['rate']:,.0f} msg/s ({result['elapsed']:.1f} s); "
                    f"bridge CPU {result['cpu_ms']:.2f} ms/text; preview {result['preview_s']:.1f} s; "
                    f"RSS {result['rss_before']:.0f} MB before, {result['rss_peak_campaign']:.0f} MB peak"
                )
                if not compared:
                    print(f"[{kind}] {figures}")
                    continue
                # The baseline runs right after the campaign and once more after a pause; the faster of the two
                # is the one compared against, so a slow moment of the machine cannot flatter the ratio.
                first = await bare_loop(url, sid, token, n, text)
                await asyncio.sleep(2)
                bare, bare_cpu = max(first, await bare_loop(url, sid, token, n, text))
                ratios.append(result["rate"] / bare)
                print(
                    f"[{kind}] round {round_}/{rounds}: {figures}; bare aiohttp loop: {bare:,.0f} req/s "
                    f"({bare_cpu:.2f} ms of CPU per request); ratio {ratios[-1]:.2f}"
                )
            if ratios:
                print(f"[{kind}] ratio, median of {rounds} rounds: {statistics.median(ratios):.2f}")
        print(f"peak RSS of the bench process (bridge + Slack emulator + seeding): {peak_rss_mb():.0f} MB")
    finally:
        stop.set()
        queue.put(None)
        await counting
        process.join(5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="recipients (default 20,000)")
    parser.add_argument("--large", action="store_true", help="100,000 recipients")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--mps", type=int, help="throttle the line to this rate and report the per-second counts")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="campaigns per database, each beside its own bare loop; the median ratio is reported (default 3)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare loop (memory runs of 1,000,000)")
    parser.add_argument(
        "--text",
        default=TEXT,
        help=f"the campaign's template (default {TEXT!r}; the bare loop fills in {{first_name}} only)",
    )
    args = parser.parse_args()
    asyncio.run(
        main(
            100_000 if args.large else args.n,
            ["sqlite", "postgres"] if args.db == "both" else [args.db],
            args.mps,
            not args.no_baseline,
            args.text,
            args.rounds,
        )
    )
