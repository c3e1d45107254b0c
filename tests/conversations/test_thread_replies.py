"""What an agent writes in a conversation thread, and what is never texted."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.compliance import consent
from bot.conversations import queries, service
from storage.models import Message, ParkedReply
from storage.states import MessageStatus
from tests.support.bridge import AGENT, CHANNEL, LINE, messages_inserted, root_recorded

CUSTOMER = "+14155550124"


async def open_thread(bridge, slack, twilio, body="hello") -> str:
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body=body)
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    ts = slack.roots(CHANNEL)[0]["ts"]
    await root_recorded(bridge, CHANNEL, ts)
    return ts


def agent_message(thread: str, text: str, ts: str) -> dict:
    """The `message` event of an agent's reply in `thread`, as Slack delivers it."""
    return {
        "type": "message",
        "channel": CHANNEL,
        "user": AGENT,
        "text": text,
        "ts": ts,
        "thread_ts": thread,
        "channel_type": "channel",
        "event_ts": ts,
    }


async def outbound_count(bridge) -> int:
    async with bridge.services.db.session() as session:
        return await session.scalar(select(func.count(Message.id)).where(Message.direction == "out"))


async def test_note_reply_stays_internal(bridge, slack, twilio):
    thread = await open_thread(bridge, slack, twilio)
    await slack.user_message(
        bridge.events_url, channel=CHANNEL, user=AGENT, text="note: VIP, be nice", thread_ts=thread
    )
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="Hello there", thread_ts=thread)
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    await asyncio.sleep(0.3)
    assert [m["body"] for m in twilio.sent] == ["Hello there"]


async def test_retried_slack_event_sends_once(bridge, slack, twilio):
    thread = await open_thread(bridge, slack, twilio)
    event = agent_message(thread, "once please", "1800000000.000100")
    first = await slack.send_event(bridge.events_url, event, event_id="Ev0RETRY1")
    again = await slack.send_event(bridge.events_url, event, event_id="Ev0RETRY1", retry_num=1)
    assert first[0] == 200 and again[0] == 200
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    await asyncio.sleep(0.3)
    assert len(twilio.sent) == 1 and await outbound_count(bridge) == 1


async def test_bot_posts_edits_deletions_and_broadcasts_are_not_sent(bridge, slack, twilio):
    thread = await open_thread(bridge, slack, twilio)
    base = {"type": "message", "channel": CHANNEL, "thread_ts": thread, "channel_type": "channel"}
    await slack.send_event(
        bridge.events_url,
        {**base, "ts": "1800000001.000001", "text": "bot echo", "bot_id": slack.bot_id, "user": slack.bot_user_id},
    )
    await slack.send_event(
        bridge.events_url,
        {
            **base,
            "ts": "1800000001.000002",
            "subtype": "message_changed",
            "message": {"text": "edited", "user": AGENT, "ts": "1800000001.000009"},
        },
    )
    await slack.send_event(
        bridge.events_url,
        {**base, "ts": "1800000001.000003", "subtype": "message_deleted", "deleted_ts": "1800000001.000009"},
    )
    await slack.send_event(
        bridge.events_url,
        {**base, "ts": "1800000001.000004", "subtype": "thread_broadcast", "user": AGENT, "text": "broadcast"},
    )
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="marker")
    await asyncio.sleep(0.5)
    assert twilio.sent == []
    assert await outbound_count(bridge) == 0


async def test_opted_out_number_gets_nothing_and_agent_is_told(bridge, slack, twilio):
    thread = await open_thread(bridge, slack, twilio)
    async with bridge.services.db.session() as session:
        line = bridge.services.lines.by_key(LINE)
        await consent.record(
            session, phone=CUSTOMER, action="opt_out", source="slack", line_id=line.id, evidence="test"
        )
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="Are you there?", thread_ts=thread)
    await slack.wait_for(lambda: any(e["user"] == AGENT for e in slack.ephemerals))
    ephemeral = next(e for e in slack.ephemerals if e["user"] == AGENT)
    assert "opted out" in ephemeral["text"]
    assert ephemeral["thread_ts"] == thread
    assert twilio.sent == []
    async with bridge.services.db.session() as session:
        message = await session.scalar(select(Message).where(Message.direction == "out"))
    assert message.status == "blocked" and "opted out" in message.error_message


async def test_slash_send_opens_a_conversation(bridge, slack, twilio):
    status, body = await slack.send_command(
        bridge.events_url, text=f"send {CUSTOMER} Your order shipped", user_id=AGENT, channel_id=CHANNEL
    )
    assert status == 200 and "new thread" in body
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert (twilio.sent[0]["to"], twilio.sent[0]["body"]) == (CUSTOMER, "Your order shipped")
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    # The customer's answer lands in the same thread.
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="thanks!")
    await slack.wait_for(lambda: len(slack.thread(CHANNEL, slack.roots(CHANNEL)[0]["ts"])) == 2)
    assert len(slack.roots(CHANNEL)) == 1


async def test_a_text_posted_to_slack_after_it_is_sent_gets_its_delivery_reaction(bridge, slack, twilio):
    """`/sms send` posts its text in the new thread through the outbox, possibly after the carrier took it: the
    reaction queued meanwhile finds the post's ts once the post is done."""
    await slack.send_command(
        bridge.events_url, text=f"send {CUSTOMER} Your order shipped", user_id=AGENT, channel_id=CHANNEL
    )
    await slack.wait_for(lambda: slack.roots(CHANNEL) and slack.thread(CHANNEL, slack.roots(CHANNEL)[0]["ts"]))
    [posted] = slack.thread(CHANNEL, slack.roots(CHANNEL)[0]["ts"])
    assert "Your order shipped" in str(posted)
    await slack.wait_for(lambda: "white_check_mark" in (slack.message(CHANNEL, posted["ts"]).get("reactions") or {}))


async def test_slash_send_refuses_a_bad_number_and_stores_nothing(bridge, slack):
    status, body = await slack.send_command(
        bridge.events_url, text="send 12ab hello", user_id=AGENT, channel_id=CHANNEL
    )
    assert status == 200 and "'12ab'" in body
    assert await outbound_count(bridge) == 0


async def test_carrier_failure_is_posted_in_the_thread(bridge, slack, twilio):
    thread = await open_thread(bridge, slack, twilio)
    twilio.set_number_error(CUSTOMER, 30003, at="callback")
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="ping", thread_ts=thread)
    await slack.wait_for(lambda: any("30003" in m["text"] for m in slack.thread(CHANNEL, thread)))
    agent_ts = next(m["ts"] for m in slack.thread(CHANNEL, thread) if m["text"] == "ping")
    await slack.wait_for(lambda: "x" in slack.message(CHANNEL, agent_ts)["reactions"])


async def test_reply_before_its_thread_root_is_recorded_is_sent_once(bridge, slack, twilio):
    """Slack has the root and delivers a reply in its thread while the bridge still awaits the answer to its
    post (so it has not recorded the root's ts): the reply waits, and goes out once the root is recorded."""
    # The post's answer is held until the test lets it go: a window of fixed length could end, on a busy
    # machine, before the reply is delivered, and then the root would be recorded first.
    slack.fail("late", 60, methods={"chat.postMessage"})
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="hello")
    await slack.wait_for(lambda: slack.roots(CHANNEL), what="the root posted (its answer held)")
    thread = slack.roots(CHANNEL)[0]["ts"]
    async with bridge.services.db.session() as session:
        assert await queries.by_thread(session, CHANNEL, thread) is None, "the root must not be recorded yet"
    message = await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="fast hi", thread_ts=thread)
    assert message["delivery"][0] == 200
    again = await slack.deliver_message_event(bridge.events_url, message, retry_num=1)
    assert again[0] == 200
    async with bridge.services.db.session() as session:
        assert await session.scalar(select(func.count(ParkedReply.id))) == 1  # waiting for its root
    assert twilio.sent == []
    slack.clear_faults()  # the post's answer arrives: the root is recorded
    await twilio.wait_for(lambda: twilio.sent, timeout=10, what="the early reply sent")
    await asyncio.sleep(1.0)  # a second copy, had one been queued, goes out within this
    assert [m["body"] for m in twilio.sent] == ["fast hi"]
    assert await outbound_count(bridge) == 1
    async with bridge.services.db.session() as session:
        assert await session.scalar(select(func.count(ParkedReply.id))) == 0


async def test_reply_in_a_thread_of_no_conversation_is_dropped_when_it_expires(bridge, slack, twilio):
    root = await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="team chat")
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="agreed", thread_ts=root["ts"])
    async with bridge.services.db.session() as session:
        parked = (await session.scalars(select(ParkedReply))).one()
        assert (parked.thread_ts, parked.text) == (root["ts"], "agreed")
        parked.parked_at = bridge.services.clock.now() - timedelta(seconds=service.PARKED_REPLY_SECONDS + 1)
    assert await service.answer_parked_replies(bridge.services) == 0
    async with bridge.services.db.session() as session:
        assert await session.scalar(select(func.count(ParkedReply.id))) == 0
    assert twilio.sent == [] and await outbound_count(bridge) == 0


async def test_a_reply_is_claimed_as_it_is_queued_and_sent_once(bridge, slack, twilio):
    """An agent waits for the reply: it is stored already claimed by this process's sender (in the transaction
    that takes the event) and handed to it once that commits, not left for the sender's next batch."""
    thread = await open_thread(bridge, slack, twilio)
    with messages_inserted(bridge) as inserted:
        await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="On its way", thread_ts=thread)
        await twilio.wait_for(lambda: len(twilio.sent) == 1)
    [values] = inserted
    assert "On its way" in values and MessageStatus.SENDING in values
    for _ in range(100):  # the carrier has it; its answer is recorded a moment later
        async with bridge.services.db.session() as session:
            [message] = (await session.scalars(select(Message).where(Message.direction == "out"))).all()
        if message.status != MessageStatus.SENDING:
            break
        await asyncio.sleep(0.05)
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)
    assert [m["body"] for m in twilio.sent] == ["On its way"]


async def test_a_retried_unknown_snippet_is_answered_once(bridge, slack, twilio):
    """What queues no text is kept once by the event's delivery key: a retry tells the agent nothing twice."""
    thread = await open_thread(bridge, slack, twilio)
    event = agent_message(thread, "!nosuchsnippet", "1800000000.000200")
    await slack.send_event(bridge.events_url, event, event_id="Ev0RETRY2")
    await slack.send_event(bridge.events_url, event, event_id="Ev0RETRY2", retry_num=1)
    await slack.wait_for(lambda: any(e["user"] == AGENT for e in slack.ephemerals), what="the agent's ephemeral")
    await asyncio.sleep(0.5)
    assert len([e for e in slack.ephemerals if e["user"] == AGENT]) == 1
    assert twilio.sent == [] and await outbound_count(bridge) == 0
