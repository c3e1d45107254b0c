"""Signatures, restarts, outages and crashes: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, update

from bot.carriers.base import OutboundSMS
from bot.lines import KnownLine
from bot.messaging.outbound import queue_sms
from storage.models import Conversation, Message, SlackOutbox
from tests.support.bridge import AGENT, CHANNEL, LINE, card_first_text, outbox_drained, thread_texts

CUSTOMER = "+14155550125"


async def count(bridge, model) -> int:
    async with bridge.services.db.session() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_bad_or_missing_twilio_signature_is_refused_and_nothing_stored(bridge, twilio):
    status, _, _ = await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="forged", signature="bm9wZQ==")
    assert status == 403
    status, _, _ = await twilio.send_inbound(
        bridge.url, from_=CUSTOMER, to=LINE, body="forged", signed_url="https://evil.example/sms/twilio/inbound"
    )
    assert status == 403
    status, _ = await twilio.send_status(
        bridge.url + "/sms/twilio/status", message_sid="SM" + "0" * 32, status="delivered", signature="bm9wZQ=="
    )
    assert status == 403
    assert await count(bridge, Message) == 0 and await count(bridge, Conversation) == 0


async def test_bad_slack_signature_or_old_timestamp_is_refused(bridge, slack):
    event = {"type": "message", "channel": CHANNEL, "user": AGENT, "text": "x", "ts": "1.1", "thread_ts": "1.0"}
    status, _ = await slack.send_event(bridge.events_url, event, signature="v0=deadbeef")
    assert status == 401
    import time

    status, _ = await slack.send_event(bridge.events_url, event, timestamp=int(time.time()) - 6 * 60)
    assert status == 401
    assert await count(bridge, Message) == 0


async def test_thread_survives_a_restart(bridge, slack, twilio):
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="before restart")
    await slack.wait_for(lambda: len(slack.messages.get(CHANNEL, [])) == 1)
    await bridge.restart()
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="after restart")
    await slack.wait_for(lambda: len(thread_texts(slack, CHANNEL, slack.roots(CHANNEL)[0]["ts"])) == 2)
    roots = slack.roots(CHANNEL)
    assert len(roots) == 1
    assert thread_texts(slack, CHANNEL, roots[0]["ts"]) == ["before restart", "after restart"]


async def test_slack_outage_loses_nothing_and_keeps_order(bridge, slack, twilio):
    # Slack is down until it has refused a call: a window of fixed length could end before the first post on a
    # busy machine, and then no outage would be tested.
    slack.fail("500", 60)
    for i in range(5):
        status, _, _ = await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body=f"text {i}")
        assert status == 200
    await slack.wait_for(lambda: slack.faults_injected, timeout=20, what="Slack refusing a call")
    await asyncio.sleep(1.0)  # down a while longer: the outbox retries meanwhile
    slack.clear_faults()
    await slack.wait_for(
        lambda: slack.roots(CHANNEL) and len(thread_texts(slack, CHANNEL, slack.roots(CHANNEL)[0]["ts"])) == 5,
        timeout=20,
    )
    root = slack.roots(CHANNEL)[0]
    assert thread_texts(slack, CHANNEL, root["ts"]) == [f"text {i}" for i in range(5)]
    assert slack.faults_injected


async def test_slack_rate_limit_is_honoured(bridge, slack, twilio):
    slack.fail("429", 1.0, retry_after=1)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="after the limit")
    await slack.wait_for(lambda: len(slack.messages.get(CHANNEL, [])) == 1, timeout=10)
    assert card_first_text(slack, CHANNEL, slack.roots(CHANNEL)[0]["ts"]) == "after the limit"


async def test_post_whose_outcome_was_lost_is_not_posted_twice(bridge, slack, twilio):
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="zero")  # the root card carries it
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="one")  # a post in the thread
    await slack.wait_for(lambda: len(slack.messages.get(CHANNEL, [])) == 2)
    await outbox_drained(bridge)
    # Pretend the last post's answer was lost: the row is pending again with its attempt on record.
    # (A statement of its own: the model refuses done -> pending, which only a lost answer can look like.)
    async with bridge.services.db.session() as session:
        row = await session.scalar(select(SlackOutbox).where(SlackOutbox.op == "post"))
        await session.execute(
            update(SlackOutbox)
            .where(SlackOutbox.id == row.id)
            .values(status="pending", attempt_started_at=bridge.services.clock.now(), result_ts=None)
        )
    bridge.services.wakeups.poke_outbox()
    await slack.wait_for(lambda: slack.method_calls("conversations.replies"))
    # The outbox finds the post in the thread and settles the row; how soon depends on the machine's load.
    await outbox_drained(bridge)
    async with bridge.services.db.session() as session:
        row = await session.scalar(select(SlackOutbox).where(SlackOutbox.op == "post"))
        assert row.status == "done"
    assert [m["text"] for m in slack.messages[CHANNEL]].count("one") == 1


async def _stuck_message(bridge, *, at_carrier: bool) -> Message:
    """A message left `sending` by a crash, accepted by the carrier or not."""
    services = bridge.services
    line: KnownLine = services.lines.by_key(LINE)
    async with services.db.session() as session:
        message = await queue_sms(
            session,
            line=line,
            phone=CUSTOMER,
            body="exactly once",
            origin="system",
            purpose="transactional",
            dedupe_key="crash-test",
        )
        message.status = "sending"
        message.claim_until = services.clock.now() + timedelta(seconds=2)
    if at_carrier:
        await services.carrier.send(OutboundSMS(to=CUSTOMER, sender=LINE, body="exactly once"))
    return message


async def test_crash_after_carrier_accepted_is_not_sent_again(bridge, twilio):
    message = await _stuck_message(bridge, at_carrier=True)
    assert len(twilio.sent) == 1
    await bridge.restart()

    async def recorded():
        async with bridge.services.db.session() as session:
            return (await session.get(Message, message.id)).status

    for _ in range(100):
        if await recorded() != "sending":
            break
        await asyncio.sleep(0.1)
    assert await recorded() in ("sent", "delivered")
    await asyncio.sleep(0.3)
    assert len(twilio.sent) == 1


async def test_crash_before_carrier_call_sends_once_on_restart(make_bridge, twilio):
    # Absent from the carrier's records for the whole reconciliation window (which opened with the claim, 28 s
    # before the crash here), the text is sent again.
    bridge = await make_bridge(env={"RECONCILE_WINDOW_SECONDS": "5"})
    await _stuck_message(bridge, at_carrier=False)
    await bridge.restart()
    await twilio.wait_for(lambda: len(twilio.sent) == 1, timeout=10)
    await asyncio.sleep(0.3)
    assert [m["body"] for m in twilio.sent] == ["exactly once"]


async def test_texts_arriving_faster_than_slack_takes_posts_are_folded_in_order(make_bridge, slack, twilio):
    slack.channel_rate_per_sec = 1  # Slack's own per-channel limit, enforced by the emulator
    bridge = await make_bridge(outbox_options={"post_interval": 1.0})
    other = "+14155550129"
    for i in range(12):
        await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body=f"burst {i}")
        if i % 4 == 0:
            await twilio.send_inbound(bridge.url, from_=other, to=LINE, body=f"other {i}")

    def threads():
        return {root["ts"]: thread_texts(slack, CHANNEL, root["ts"]) for root in slack.roots(CHANNEL)}

    await slack.wait_for(lambda: sum(len(t) for t in threads().values()) == 15, timeout=30)
    by_first = {texts[0].split()[0]: texts for texts in threads().values()}
    assert by_first["burst"] == [f"burst {i}" for i in range(12)]
    assert by_first["other"] == ["other 0", "other 4", "other 8"]
    posts = [m for m in slack.messages[CHANNEL] if m["thread_ts"]]
    assert len(posts) < 15, "a backlog should have been folded into fewer posts"
