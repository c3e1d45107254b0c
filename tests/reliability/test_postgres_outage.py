"""PostgreSQL stopped for a few seconds and started again while texts flow, on a cluster of the test's own
(never the shared server): nothing unstored is acknowledged, nothing acknowledged is lost or doubled, and the
same server process serves again afterwards."""

from __future__ import annotations

import asyncio
import os

import aiohttp
import pytest

from tests.support.bridge import free_port
from tests.support.postgres import PrivateCluster, private_clusters_or_skip
from tests.support.traffic import (
    Text,
    config_with_lines,
    customers,
    deliver_reply,
    deliver_text,
    inbound_tally,
    open_threads,
    refusals,
    replies_expected,
    sent_tally,
    wait_settled,
)

LINES, NUMBERS_PER_LINE = 5, 2
OUTAGE = 5.0  # seconds PostgreSQL stays down
CARRIER_503 = 3.0  # the carrier is away first, so the replies are still queued when the database stops
STREAM_PAUSE = 0.25  # between two rounds of texts (one from every customer)


@pytest.fixture
async def cluster():
    """A private PostgreSQL cluster on a free port, dropped at the end."""
    private_clusters_or_skip()
    cluster = PrivateCluster(f"reliability{os.getpid()}", free_port())
    await cluster.create()
    try:
        await cluster.start()
        yield cluster
    finally:
        await cluster.drop()


async def readiness(url: str) -> int:
    """HTTP status of /readyz (0 when the server does not answer)."""
    try:
        async with aiohttp.ClientSession() as http, http.get(url + "/readyz") as resp:
            return resp.status
    except aiohttp.ClientError:
        return 0


async def wait_ready_again(url: str, timeout: float = 30.0) -> None:
    """Wait until /readyz answers 200 again."""
    deadline = asyncio.get_running_loop().time() + timeout
    while await readiness(url) != 200:
        assert asyncio.get_running_loop().time() < deadline, "the server did not become ready again"
        await asyncio.sleep(0.2)


async def stream(twilio, url: str, people, label: str, stop: asyncio.Event) -> list[Text]:
    """Rounds of one text from every customer until `stop` is set; each text delivered until acknowledged."""
    texts, pending, round_ = [], [], 0
    while not stop.is_set():
        batch = [Text(phone, line, channel, f"{phone} {label} {round_}") for phone, line, channel in people]
        texts += batch
        pending += [asyncio.create_task(deliver_text(twilio, url, text)) for text in batch]
        round_ += 1
        await asyncio.sleep(STREAM_PAUSE)
    await asyncio.gather(*pending)
    return texts


async def test_postgres_stopped_and_started_mid_traffic(cluster, slack, twilio, serve, report):
    config, lines = config_with_lines(LINES)
    url = await cluster.create_database("bridge")
    server = await serve(url, config)
    pid = server.process.pid
    people = customers(lines, NUMBERS_PER_LINE, "+1628556")
    opening, threads = await open_threads(slack, twilio, server.url, people)

    # Replies stored but not yet sent (the carrier is away), then the database stops while texts keep coming.
    twilio.fail("503", CARRIER_503)
    before = await asyncio.gather(
        *(
            deliver_reply(
                slack,
                server.url,
                phone=phone,
                channel=channel,
                thread_ts=threads[phone],
                body=f"reply to {phone} before the outage",
            )
            for phone, _, channel in people
        )
    )
    stop = asyncio.Event()
    flowing = asyncio.create_task(stream(twilio, server.url, people, "during", stop))
    await asyncio.sleep(0.5)
    await cluster.stop()
    queued_at_outage = sent_tally(twilio, replies_expected(before)).lost  # stored, not yet at the carrier
    await asyncio.sleep(OUTAGE / 2)
    ready_during_outage = await readiness(server.url)
    await asyncio.sleep(OUTAGE / 2)
    await cluster.start()
    await wait_ready_again(server.url)
    stop.set()
    during = await flowing

    # New traffic after the restart, same server process.
    after = await asyncio.gather(
        *(
            deliver_text(twilio, server.url, Text(phone, line, channel, f"{phone} after"))
            for phone, line, channel in people
        )
    )
    later = await asyncio.gather(
        *(
            deliver_reply(
                slack,
                server.url,
                phone=phone,
                channel=channel,
                thread_ts=threads[phone],
                body=f"reply to {phone} after the outage",
            )
            for phone, _, channel in people
        )
    )
    texts, replies = [*opening, *during, *after], [*before, *later]
    await slack.wait_for(lambda: inbound_tally(slack, texts).lost == 0, timeout=90, what="every text in Slack")
    await twilio.wait_for(
        lambda: sent_tally(twilio, replies_expected(replies)).lost == 0, timeout=90, what="every reply sent"
    )
    await wait_settled(url)

    inbound, outbound = inbound_tally(slack, texts), sent_tally(twilio, replies_expected(replies))
    refused = refusals(during)
    report(
        faults={"postgres stopped": 1, **{f"carrier {k}": n for k, n in twilio.faults_injected.items()}},
        crashes=0,
        inputs=len(texts) + len(replies),
        lost=inbound.lost + outbound.lost,
        duplicates=inbound.duplicates + outbound.duplicates,
        misplaced=inbound.misplaced,
        queued_at_outage=queued_at_outage,
        refused_during_outage=refused,
    )
    assert queued_at_outage > 0, "some replies must still be queued when the database stops"
    assert ready_during_outage == 503
    assert sum(n for status, n in refused.items() if status != 200) > 0, "no text met the outage"
    assert set(refused) <= {200, 503}, f"refusals other than 503 Retry-After: {refused}"
    assert all(t.acknowledged for t in texts) and all(r.acknowledged for r in replies)
    assert inbound.clean, inbound
    assert outbound.clean, outbound
    assert server.process.returncode is None and server.process.pid == pid, "the server must recover without a restart"
