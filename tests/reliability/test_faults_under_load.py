"""Slack and the carrier fail for a while under steady traffic (a running server, faults injected at the
emulators): nothing acknowledged is lost, nothing reaches Slack or the carrier twice, and traffic flows again
once the faults end, with no restart."""

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
    thread_of,
    wait_settled,
)

LINES, NUMBERS_PER_LINE = 10, 2  # 20 customers, 2 threads per channel
ROUNDS = 8  # texts per customer while the faults last (plus one to open the thread, one after): 200 in all
ROUND_PAUSE = 0.3  # between rounds, so the texts are spread over the fault windows
WINDOW = 1.5  # seconds each fault lasts
EXTRA_WAIT = 6.0  # at most this much longer, for a fault no request has met yet (see inject_faults)
CAMPAIGN_SIZE = 30
CAMPAIGN_TEXT = "Reliability check: your order is ready"
SLACK_FAULTS = ("429", "500", "timeout")
CARRIER_FAULTS = ("500", "429", "timeout")
# A carrier call held unanswered and then dropped ("timeout") leaves its outcome unknown: the text is sent again
# only once Twilio's list has not shown it for the whole reconciliation window (5 minutes unless configured,
# docs/reconciliation.md), longer than this test waits. A short window here, so that those texts go out again
# within the test, once.
RECONCILE_WINDOW = "10"


async def inject_faults(slack, twilio) -> None:
    """One window after another: Slack 429 (Retry-After) / 5xx / timeouts, the carrier 5xx / 429 / timeouts.

    A window that no request fell into is extended (half a second at a time, up to EXTRA_WAIT): whether one
    does depends on how fast the server drains its work (after a 429 every channel may be waiting out its
    Retry-After for the whole next window), and each fault must be met at least once for the test to mean
    anything."""
    for slack_kind, carrier_kind in zip(SLACK_FAULTS, CARRIER_FAULTS, strict=True):
        slack.fail(slack_kind, WINDOW, retry_after=1)
        twilio.fail(carrier_kind, WINDOW, retry_after=1)
        await asyncio.sleep(WINDOW)
        extra = 0.0
        while extra < EXTRA_WAIT and not (slack.faults_injected[slack_kind] and twilio.faults_injected[carrier_kind]):
            for emulator, kind in ((slack, slack_kind), (twilio, carrier_kind)):
                if not emulator.faults_injected[kind]:
                    emulator.fail(kind, 0.5, retry_after=1)
            await asyncio.sleep(0.5)
            extra += 0.5


async def texts_and_replies(
    slack, twilio, url: str, people, threads: dict[str, str], label: str, rounds: int, pause: float
) -> tuple[list[Text], list]:
    """`rounds` rounds of one text from every customer (delivered concurrently) and one agent reply in every
    other thread; all delivered until acknowledged."""
    texts, replies = [], []
    for round_ in range(rounds):
        batch = [Text(phone, line, channel, f"{phone} {label} {round_}") for phone, line, channel in people]
        answering = [(phone, channel) for k, (phone, _, channel) in enumerate(people) if (k + round_) % 2 == 0]
        results = await asyncio.gather(
            *(deliver_text(twilio, url, text) for text in batch),
            *(
                deliver_reply(
                    slack,
                    url,
                    phone=phone,
                    channel=channel,
                    thread_ts=threads[phone],
                    body=f"reply to {phone} {label} {round_}",
                )
                for phone, channel in answering
            ),
        )
        texts += results[: len(batch)]
        replies += results[len(batch) :]
        if round_ + 1 < rounds:
            await asyncio.sleep(pause)
    return texts, replies


async def test_slack_and_carrier_faults_under_load(database_url, slack, twilio, serve, report):
    config, lines = config_with_lines(LINES)
    audience = await seed_audience(database_url, CAMPAIGN_SIZE)
    server = await serve(database_url, config, env={"RECONCILE_WINDOW_SECONDS": RECONCILE_WINDOW})
    people = customers(lines, NUMBERS_PER_LINE, "+1628555")
    opening, threads = await open_threads(slack, twilio, server.url, people)  # while all is well
    campaign_id = await create_campaign(
        slack,
        server.url,
        f'name="reliability" to=all at=now line={A2P_LINE} purpose=transactional text="{CAMPAIGN_TEXT}"',
    )

    # Faults, while texts, replies and the campaign flow.
    (during, replies), *_ = await asyncio.gather(
        texts_and_replies(slack, twilio, server.url, people, threads, "during", ROUNDS, ROUND_PAUSE),
        inject_faults(slack, twilio),
        approve_campaign(slack, server.url, campaign_id),
    )

    # After the windows: traffic flows again, same process.
    after, later_replies = await texts_and_replies(slack, twilio, server.url, people, threads, "after", 1, 0)
    texts, replies = [*opening, *during, *after], [*replies, *later_replies]
    expected_sms = replies_expected(replies) + [(phone, CAMPAIGN_TEXT) for phone in audience]
    await slack.wait_for(lambda: inbound_tally(slack, texts).lost == 0, timeout=90, what="every text in Slack")
    await twilio.wait_for(lambda: sent_tally(twilio, expected_sms).lost == 0, timeout=90, what="every SMS sent")
    await wait_settled(database_url)

    inbound, outbound = inbound_tally(slack, texts), sent_tally(twilio, expected_sms)
    faults = {
        **{f"slack {k}": n for k, n in slack.faults_injected.items()},
        **{f"carrier {k}": n for k, n in twilio.faults_injected.items()},
    }
    report(
        faults=faults,
        crashes=0,
        inputs=len(texts) + len(replies) + len(audience),
        lost=inbound.lost + outbound.lost,
        duplicates=inbound.duplicates + outbound.duplicates,
        misplaced=inbound.misplaced,
        refused=refusals([*texts, *replies]),
    )
    assert all(t.acknowledged for t in texts) and all(r.acknowledged for r in replies)
    assert inbound.clean, inbound
    assert outbound.clean, outbound
    assert server.process.returncode is None, "the server must recover by itself, not restart"
    assert all(slack.faults_injected[k] for k in SLACK_FAULTS), slack.faults_injected
    assert all(twilio.faults_injected[k] for k in CARRIER_FAULTS), twilio.faults_injected


async def test_a_reply_met_by_a_slack_outage_on_the_first_request_is_refused_until_taken(
    tmp_path, slack, twilio, serve, report
):
    """A fresh process authorizes its first Slack request with auth.test; if Slack is rate limiting then, the
    event must not be acknowledged (Slack would never deliver it again) but refused, and taken on a retry."""
    config, lines = config_with_lines(1)
    url = f"sqlite+aiosqlite:///{tmp_path}/bridge.db"
    server = await serve(url, config)
    (line, channel), phone = lines[0], "+16285559999"
    text = await deliver_text(twilio, server.url, Text(phone, line, channel, f"{phone} hello"))
    await slack.wait_for(lambda: thread_of(slack, channel, phone), what="the customer's thread")

    slack.fail("429", WINDOW, retry_after=1)
    reply = await deliver_reply(
        slack,
        server.url,
        phone=phone,
        channel=channel,
        thread_ts=thread_of(slack, channel, phone),
        body="Yes, we deliver on Sundays",
    )
    await twilio.wait_for(lambda: sent_tally(twilio, replies_expected([reply])).lost == 0, what="the reply sent")
    await wait_settled(url)

    outbound = sent_tally(twilio, replies_expected([reply]))
    report(
        faults={f"slack {k}": n for k, n in slack.faults_injected.items()},
        crashes=0,
        inputs=2,
        lost=outbound.lost,
        duplicates=outbound.duplicates,
        refused=refusals([text, reply]),
    )
    assert reply.acknowledged and reply.refusals[503] >= 1, reply.refusals
    assert outbound.clean, outbound
