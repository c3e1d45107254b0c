"""Twilio creates the message and the connection drops before its answer arrives (a proxy reset, a network cut):
without any crash, each text reaches Twilio once, and is recorded with Twilio's MessageSid."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from sqlalchemy import select

from storage.models import Message
from tests.support.bridge import AGENT, CHANNEL, LINE

CUSTOMER = "+14155550126"
REPLIES = ["First answer", "Second answer", "Third answer"]


async def reply_three_times(bridge, slack, twilio) -> None:
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="hello")
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    thread = slack.roots(CHANNEL)[0]["ts"]
    twilio.drop_answers(len(REPLIES))
    for text in REPLIES:
        await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text=text, thread_ts=thread)


async def recorded(bridge, timeout: float) -> dict[str, tuple[str, str | None]]:
    """body -> (status, carrier sid) of each reply, once none is `sending` any more."""
    deadline = time.monotonic() + timeout
    while True:
        async with bridge.services.db.session() as session:
            rows = (await session.execute(select(Message.body, Message.status, Message.carrier_sid))).all()
        replies = {row.body: (row.status, row.carrier_sid) for row in rows if row.body in REPLIES}
        if len(replies) == len(REPLIES) and all(status not in ("queued", "sending") for status, _ in replies.values()):
            return replies
        if time.monotonic() > deadline:
            raise AssertionError(f"replies not settled within {timeout}s: {replies}")
        await asyncio.sleep(0.1)


def assert_each_sent_once(twilio, replies: dict[str, tuple[str, str | None]]) -> None:
    sent = Counter(m["body"] for m in twilio.sent)
    assert {body: sent[body] for body in REPLIES} == dict.fromkeys(REPLIES, 1), "a text went out twice"
    sids = {m["body"]: m["sid"] for m in twilio.sent}
    assert {body: sid for body, (_, sid) in replies.items()} == {body: sids[body] for body in REPLIES}
    assert twilio.faults_injected["answer_dropped"] == len(REPLIES)


async def test_lost_answers_are_settled_by_the_first_status_callback(bridge, slack, twilio):
    # Twilio sends each text a second after creating it; its list would show them only after a minute, so only
    # the status callback (its URL names the bridge's message) can settle them.
    twilio.queue_hold, twilio.list_lag = 1.0, 60.0
    await reply_three_times(bridge, slack, twilio)
    replies = await recorded(bridge, timeout=20)
    await asyncio.sleep(1.5)  # time for a second copy, had one been queued
    assert_each_sent_once(twilio, replies)
    assert {status for status, _ in replies.values()} <= {"sent", "delivered"}


async def test_lost_answers_of_texts_twilio_holds_queued_are_found_in_its_list(bridge, slack, twilio):
    # Twilio holds the texts queued (date_sent null, no callback yet) and lists them a second after they exist.
    twilio.queue_hold, twilio.list_lag = 8.0, 1.0
    await reply_three_times(bridge, slack, twilio)
    replies = await recorded(bridge, timeout=20)
    assert all(m["status"] == "queued" for m in twilio.sent if m["body"] in REPLIES), "settled before any callback"
    await asyncio.sleep(1.5)
    assert_each_sent_once(twilio, replies)
    assert {status for status, _ in replies.values()} == {"sent"}
