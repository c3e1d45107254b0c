"""answer_within_minutes (raised once, in the thread) and business_hours with away_text, on a steered clock."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from bot.clock import ManualClock
from bot.conversations import inbox
from storage.db import Database
from tests.inbox.helpers import CUSTOMER, card, click, conversation, history, open_thread, thread_text
from tests.support.bridge import AGENT, CHANNEL, DEFAULT_CONFIG, LINE

FIRST_LINE_HELP = 'help_text = "Acme: help@acme.example. Msg&data rates may apply. Reply STOP to opt out."\n'
AWAY = "Thanks! We're closed now and will answer from 9am."


def config(**keys: str) -> str:
    extra = "".join(f"{key} = {value}\n" for key, value in keys.items())
    assert FIRST_LINE_HELP in DEFAULT_CONFIG
    return DEFAULT_CONFIG.replace(FIRST_LINE_HELP, FIRST_LINE_HELP + extra, 1)


def saturday_night() -> datetime:
    """A Saturday 23:00 UTC ahead of real time (rows stamped with the wall clock are then already due)."""
    day = datetime.now(UTC).replace(hour=23, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while day.weekday() != 5:
        day += timedelta(days=1)
    return day


async def test_an_unanswered_text_is_raised_once_with_here_then_with_the_assignee(make_bridge, slack, twilio):
    clock = ManualClock(datetime.now(UTC) + timedelta(hours=1))
    bridge = await make_bridge(config=config(answer_within_minutes="15"), clock=clock)
    ts = await open_thread(bridge, slack, twilio)
    clock.advance(minutes=14)
    assert await inbox.raise_due_alerts(bridge.services) == 0
    clock.advance(minutes=2)
    await slack.wait_for(lambda: "waited" in thread_text(slack, ts))
    assert "<!here> the customer has waited 16 minutes for an answer" in thread_text(slack, ts)
    clock.advance(minutes=30)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="hello??")  # still the same wait
    await slack.wait_for(lambda: "hello??" in thread_text(slack, ts))  # taken in before the answer below
    assert await inbox.raise_due_alerts(bridge.services) == 0
    assert thread_text(slack, ts).count("waited") == 1

    # Answered, then a new wait: raised again, now mentioning whoever answered (and so was assigned).
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="Here", thread_ts=ts)
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert (await conversation(bridge)).answer_due_at is None
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="thanks, and another thing")
    await slack.wait_for(lambda: "another thing" in thread_text(slack, ts))
    clock.advance(minutes=20)
    await slack.wait_for(lambda: f"<@{AGENT}> the customer has waited 20 minutes" in thread_text(slack, ts))
    assert [e[0] for e in await history(bridge)].count("alerted") == 2


async def test_an_answer_in_time_raises_nothing_and_a_resolved_one_is_not_waiting(make_bridge, slack, twilio):
    clock = ManualClock(datetime.now(UTC) + timedelta(hours=1))
    bridge = await make_bridge(config=config(answer_within_minutes="15"), clock=clock)
    ts = await open_thread(bridge, slack, twilio)
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="Hi!", thread_ts=ts)
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="ok bye", message_sid=None)
    await slack.wait_for(lambda: "ok bye" in thread_text(slack, ts))
    await click(bridge, slack, ts, "conversation_resolve")
    clock.advance(hours=2)
    assert await inbox.raise_due_alerts(bridge.services) == 0
    await asyncio.sleep(1.5)  # a scan of the running app's scheduler has passed
    assert "waited" not in thread_text(slack, ts)


async def test_the_away_text_goes_once_per_12_hours_outside_business_hours(make_bridge, slack, twilio):
    clock = ManualClock(saturday_night())
    hours = config(business_hours='"Mon-Fri 09:00-17:00; Sat 10:00-14:00"', timezone='"UTC"', away_text=f'"{AWAY}"')
    bridge = await make_bridge(config=hours, clock=clock)
    ts = await open_thread(bridge, slack, twilio, body="are you there?")
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert twilio.sent[0]["body"] == AWAY and twilio.sent[0]["to"] == CUSTOMER
    await slack.wait_for(lambda: "Outside business hours" in thread_text(slack, ts))
    await slack.wait_for(lambda: "closed now" in card(slack, ts))

    clock.advance(hours=11)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="hello?")
    await slack.wait_for(lambda: "hello?" in thread_text(slack, ts))
    clock.advance(hours=2)  # Sunday 12:00: 13 hours after the first away text
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="anyone?")
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    clock.advance(hours=21)  # Monday 09:00: open
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="good morning")
    await slack.wait_for(lambda: "good morning" in thread_text(slack, ts))
    await asyncio.sleep(0.5)
    assert [m["body"] for m in twilio.sent] == [AWAY, AWAY]
    assert [e[0] for e in await history(bridge)].count("away") == 2


async def test_no_away_text_in_answer_to_a_keyword_nor_to_an_opted_out_number(make_bridge, slack, twilio):
    clock = ManualClock(saturday_night())
    hours = config(business_hours='"Mon-Fri 09:00-17:00"', timezone='"America/Los_Angeles"', away_text=f'"{AWAY}"')
    bridge = await make_bridge(config=hours, clock=clock)
    ts = await open_thread(bridge, slack, twilio, body="STOP")
    await twilio.wait_for(lambda: len(twilio.sent) == 1)  # the one opt-out confirmation
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="actually, one question")
    await slack.wait_for(lambda: "one question" in thread_text(slack, ts))
    await asyncio.sleep(0.5)
    assert len(twilio.sent) == 1 and AWAY not in twilio.sent[0]["body"]
    assert "away" not in [e[0] for e in await history(bridge)]


async def test_replicas_scanning_at_once_raise_a_due_alert_once(make_bridge, slack, twilio, database_url):
    clock = ManualClock(datetime.now(UTC) + timedelta(hours=1))
    bridge = await make_bridge(config=config(answer_within_minutes="5"), clock=clock)
    ts = await open_thread(bridge, slack, twilio)
    other_db = Database(database_url)
    replicas = [bridge.services, dataclasses.replace(bridge.services, db=other_db)]
    try:
        clock.advance(minutes=6)
        raised = await asyncio.gather(*(inbox.raise_due_alerts(r) for r in replicas for _ in range(3)))
        await slack.wait_for(lambda: "waited" in thread_text(slack, ts))
        await asyncio.sleep(1.5)  # the app's own scan has run too
    finally:
        await other_db.dispose()
    assert sum(raised) <= 1
    assert [e[0] for e in await history(bridge)].count("alerted") == 1
    assert thread_text(slack, ts).count("waited") == 1
