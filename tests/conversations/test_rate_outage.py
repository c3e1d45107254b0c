"""A text that cannot have a slot of its line's rate (on PostgreSQL the rate is shared through the database) was
never offered to the carrier: it is queued again and goes out once the database answers, not held as a text
whose outcome is unknown."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import text

from tests.support.bridge import AGENT, CHANNEL, LINE

CUSTOMER = "+14155550127"
REPLY = "Your table is ready"


async def test_a_text_without_a_rate_slot_is_sent_once_the_database_answers_again(bridge, slack, twilio):
    if bridge.services.db.is_sqlite:
        pytest.skip("on SQLite a line's rate is kept in the process: a slot never needs the database")
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="hello")
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    thread = slack.roots(CHANNEL)[0]["ts"]
    # The shared rate's table is away for a while: every lease of a slot fails, as while the database is down.
    async with bridge.services.db.session() as session:
        await session.execute(text("ALTER TABLE rate_slots RENAME TO rate_slots_away"))
    try:
        await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text=REPLY, thread_ts=thread)
        await asyncio.sleep(1.5)
        assert not [m for m in twilio.sent if m["body"] == REPLY]
    finally:
        async with bridge.services.db.session() as session:
            await session.execute(text("ALTER TABLE rate_slots_away RENAME TO rate_slots"))
    # Well within the reconciliation window (5 minutes): the text was never offered, so nothing waits for it.
    await twilio.wait_for(lambda: any(m["body"] == REPLY for m in twilio.sent), timeout=20, what="the reply sent")
    await asyncio.sleep(1.0)  # time for a second copy, had one been queued
    assert Counter(m["body"] for m in twilio.sent)[REPLY] == 1
