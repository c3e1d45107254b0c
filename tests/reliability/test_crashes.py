"""SIGKILL of a server process (no shutdown: its claims and leases left as they were) in the middle of a
campaign, then of its successor in the middle of an inbound burst, on one SQLite database. Texts and replies
not acknowledged are delivered again, as Twilio and Slack would, to the process started in its place. In the
end every acknowledged text is in Slack once, every acknowledged reply and every recipient reached the carrier
once.

The two crashes are one test: work a killed process had claimed waits for its claim or lease to lapse (30 s)
before another process takes it, and the second crash comes while the first one's claims are lapsing."""

from __future__ import annotations

import asyncio

from tests.support.audience import seed_audience
from tests.support.bridge import A2P_LINE
from tests.support.traffic import (
    Text,
    approve_campaign,
    config_with_lines,
    create_campaign,
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

LINES, NUMBERS_PER_LINE = 10, 2
BURST_PER_CUSTOMER = 15  # 300 texts, all sent at once
CAMPAIGN_SIZE = 300
CAMPAIGN_TEXT = "Crash check: your order is ready"
# A kill can come while the campaign still has texts claimed and not yet offered (the second kill too, since the
# burst is acknowledged fast): their successor may send them again only after the reconcile window, by design.
WINDOW = {"RECONCILE_WINDOW_SECONDS": "10"}


async def crash(server) -> None:
    """SIGKILL the server process and wait until it is gone (its port is free again)."""
    server.kill()
    await server.process.wait()


async def test_sigkill_mid_campaign_then_mid_inbound_burst(tmp_path, slack, twilio, serve, report):
    url = f"sqlite+aiosqlite:///{tmp_path}/bridge.db"
    config, lines = config_with_lines(LINES)
    audience = await seed_audience(url, CAMPAIGN_SIZE)
    first = await serve(url, config, env=WINDOW)
    people = customers(lines, NUMBERS_PER_LINE, "+1628557")
    opening, threads = await open_threads(slack, twilio, first.url, people)

    # Crash 1: a campaign, killed when a third of its recipients are texted.
    campaign_id = await create_campaign(
        slack, first.url, f'name="crash" to=all at=now line={A2P_LINE} purpose=transactional text="{CAMPAIGN_TEXT}"'
    )
    await approve_campaign(slack, first.url, campaign_id)
    texted = lambda: {m["to"] for m in twilio.sent if m["body"] == CAMPAIGN_TEXT}  # noqa: E731
    await twilio.wait_for(lambda: len(texted()) >= CAMPAIGN_SIZE // 3, timeout=60, what="a third of the campaign sent")
    await crash(first)
    texted_at_crash = len(texted())
    second = await serve(url, config, port=first.port, env=WINDOW)  # behind the same address, as after a restart

    # Crash 2: a burst of texts and a reply in every thread, all at once; killed when a third is acknowledged.
    burst = [
        Text(phone, line, channel, f"{phone} burst {i}")
        for i in range(BURST_PER_CUSTOMER)
        for phone, line, channel in people
    ]
    texts_in_flight = [asyncio.create_task(deliver_text(twilio, second.url, text, patience=120)) for text in burst]
    replies_in_flight = [
        asyncio.create_task(
            deliver_reply(
                slack,
                second.url,
                phone=phone,
                channel=channel,
                thread_ts=threads[phone],
                body=f"reply to {phone} mid-burst",
                patience=120,
            )
        )
        for phone, _, channel in people
    ]
    await twilio.wait_for(
        lambda: sum(t.acknowledged for t in burst) >= len(burst) // 3,
        timeout=60,
        what="a third of the burst acknowledged",
    )
    await crash(second)
    unacknowledged_at_crash = sum(not t.acknowledged for t in burst)
    third = await serve(url, config, port=first.port, env=WINDOW)  # the burst's senders keep delivering to that address

    texts = [*opening, *await asyncio.gather(*texts_in_flight)]
    replies = await asyncio.gather(*replies_in_flight)
    expected_sms = replies_expected(replies) + [(phone, CAMPAIGN_TEXT) for phone in audience]
    await slack.wait_for(lambda: inbound_tally(slack, texts).lost == 0, timeout=90, what="every text in Slack")
    await twilio.wait_for(lambda: sent_tally(twilio, expected_sms).lost == 0, timeout=90, what="every SMS sent")
    await wait_settled(url)

    inbound, outbound = inbound_tally(slack, texts), sent_tally(twilio, expected_sms)
    report(
        faults={},
        crashes=2,
        inputs=len(texts) + len(replies) + len(audience),
        lost=inbound.lost + outbound.lost,
        duplicates=inbound.duplicates + outbound.duplicates,
        misplaced=inbound.misplaced,
        texted_at_crash=texted_at_crash,
        unacknowledged_at_crash=unacknowledged_at_crash,
        refused=refusals([*texts, *replies]),
    )
    assert texted_at_crash < CAMPAIGN_SIZE and unacknowledged_at_crash > 0, "each kill must come mid-way"
    assert all(t.acknowledged for t in texts) and all(r.acknowledged for r in replies)
    assert inbound.clean, inbound
    assert outbound.clean, outbound
    assert third.process.returncode is None
