"""Status and assignee: the card's buttons, `/sms assign` and `/sms resolve`, the first answer, reopening."""

from __future__ import annotations

import asyncio
import dataclasses

from bot.conversations import inbox, queries
from bot.conversations.service import ThreadReply, reply_from_slack
from storage.db import Database
from tests.inbox.helpers import (
    CUSTOMER,
    buttons,
    card,
    click,
    command,
    conversation,
    history,
    open_thread,
    thread_text,
)
from tests.support.bridge import AGENT, CHANNEL, LINE, card_first_text

OTHER = "U0OTHER"


async def test_card_has_the_buttons_and_the_first_agent_to_answer_is_assigned(bridge, slack, twilio):
    ts = await open_thread(bridge, slack, twilio)
    assert set(buttons(slack, ts)) >= {"conversation_assign_me", "conversation_resolve", "conversation_edit_contact"}
    assert "*Status:* :large_green_circle: open" in card(slack, ts) and "*Assignee:* nobody" in card(slack, ts)

    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="On it", thread_ts=ts)
    await slack.wait_for(lambda: f"*Assignee:* <@{AGENT}>" in card(slack, ts))
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=OTHER, text="me too", thread_ts=ts)
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert (await conversation(bridge)).assignee == AGENT  # the first to answer keeps it
    assert [e for e in await history(bridge) if e[0] == "assigned"] == [("assigned", AGENT, AGENT)]
    assert [e[0] for e in await history(bridge)].count("first_answer") == 1
    # The card is redrawn on each change and still carries the text the conversation began with.
    assert '"hello"' in card(slack, ts) and card_first_text(slack, CHANNEL, ts) == "hello"


async def test_resolve_then_a_customer_text_reopens_and_says_so(bridge, slack, twilio):
    ts = await open_thread(bridge, slack, twilio)
    answer = await click(bridge, slack, ts, "conversation_resolve")
    assert "Resolved" in answer
    await slack.wait_for(lambda: "conversation_reopen" in buttons(slack, ts))
    assert ":white_check_mark: resolved" in card(slack, ts)
    assert f"<@{AGENT}> resolved this conversation" in thread_text(slack, ts)

    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="one more question")
    await slack.wait_for(lambda: "*Reopened:* the customer wrote again" in thread_text(slack, ts))
    await slack.wait_for(lambda: "conversation_resolve" in buttons(slack, ts))
    kinds = [e[0] for e in await history(bridge)]
    assert "resolved" in kinds and kinds[-1] == "reopened"
    assert len(slack.roots(CHANNEL)) == 1  # the same thread


async def test_reopen_button_and_resolving_twice(bridge, slack, twilio):
    ts = await open_thread(bridge, slack, twilio)
    await click(bridge, slack, ts, "conversation_resolve")
    await slack.wait_for(lambda: "conversation_reopen" in buttons(slack, ts))
    assert "already resolved" in await inbox.resolve(bridge.services, (await conversation(bridge)).id, actor=AGENT)
    assert "Reopened" in await click(bridge, slack, ts, "conversation_reopen")
    await slack.wait_for(lambda: "conversation_resolve" in buttons(slack, ts))
    assert f"<@{AGENT}> reopened this conversation" in thread_text(slack, ts)
    assert [e[0] for e in await history(bridge)] == ["resolved", "reopened"]


async def test_assign_to_me_and_by_command(bridge, slack, twilio):
    slack.add_user(OTHER, real_name="Olga Other")
    ts = await open_thread(bridge, slack, twilio)
    assert "Assigned to you" in await click(bridge, slack, ts, "conversation_assign_me")
    await slack.wait_for(lambda: f"*Assignee:* <@{AGENT}>" in card(slack, ts))
    assert "already assigned" in await click(bridge, slack, ts, "conversation_assign_me")

    answer = await command(bridge, slack, f"assign {CUSTOMER} <@{OTHER}|olga>")
    assert answer == f"Assigned to <@{OTHER}>."
    await slack.wait_for(lambda: f"*Assignee:* <@{OTHER}>" in card(slack, ts))
    assert f"assigned this conversation to <@{OTHER}> (was <@{AGENT}>)" in thread_text(slack, ts)
    assert "Resolved" in await command(bridge, slack, f"resolve {CUSTOMER}")
    assert [e for e in await history(bridge) if e[0] == "assigned"] == [
        ("assigned", AGENT, AGENT),
        ("assigned", AGENT, OTHER),
    ]


async def test_bad_assign_and_resolve_commands_change_nothing(bridge, slack, twilio):
    await open_thread(bridge, slack, twilio)
    assert "no conversation with +14155550177" in await command(bridge, slack, f"assign +14155550177 <@{AGENT}>")
    assert "'+1555'" in await command(bridge, slack, f"assign +1555 <@{AGENT}>")
    assert "U0NOBODY> is not a member of this workspace" in await command(
        bridge, slack, f"assign {CUSTOMER} <@U0NOBODY|ghost>"
    )
    assert "'bob'" in await command(bridge, slack, f"assign {CUSTOMER} bob")
    assert "Usage" in await command(bridge, slack, "assign")
    assert "no conversation with +14155550177" in await command(bridge, slack, "resolve +14155550177")
    assert "'12ab'" in await command(bridge, slack, "resolve 12ab")
    assert (await conversation(bridge)).assignee is None
    assert await history(bridge) == []


async def test_two_replicas_assigning_at_once_end_with_one_assignee_recorded(bridge, slack, twilio, database_url):
    """Each click reads "nobody" and then writes: the conditional UPDATE lets exactly one of them win."""
    await open_thread(bridge, slack, twilio)
    conversation_id = (await conversation(bridge)).id
    other_db = Database(database_url)
    replica = dataclasses.replace(bridge.services, db=other_db)
    try:
        for round_ in range(3):
            first, second = f"U0FIRST{round_}", f"U0SECOND{round_}"
            answers = await asyncio.gather(
                inbox.assign(bridge.services, conversation_id, to=first, actor=first),
                inbox.assign(replica, conversation_id, to=second, actor=second),
            )
            assigned = [e for e in await history(bridge) if e[0] == "assigned"]
            final = (await conversation(bridge)).assignee
            assert assigned[-1][2] == final, (answers, assigned)
            assert final in (first, second)
    finally:
        await other_db.dispose()


async def test_two_agents_answering_at_once_on_two_replicas_leave_one_assignee(bridge, slack, twilio, database_url):
    ts = await open_thread(bridge, slack, twilio)
    other_db = Database(database_url)
    replica = dataclasses.replace(bridge.services, db=other_db)
    try:
        outcomes = await asyncio.gather(
            *(
                reply_from_slack(services, ThreadReply(None, CHANNEL, ts, f"1900000000.00000{i}", user, f"answer {i}"))
                for i, (services, user) in enumerate(((bridge.services, "U0FIRST"), (replica, "U0SECOND")))
            )
        )
    finally:
        await other_db.dispose()
    assert outcomes == ["sent", "sent"]
    assigned = [e for e in await history(bridge) if e[0] == "assigned"]
    assert len(assigned) == 1 and assigned[0][2] == (await conversation(bridge)).assignee


async def test_an_assignee_changed_meanwhile_is_not_overwritten(bridge, slack, twilio):
    await open_thread(bridge, slack, twilio)
    conversation_id = (await conversation(bridge)).id
    async with bridge.services.db.session() as session:
        assert await queries.compare_and_set_assignee(session, conversation_id, "U0FIRST", seen=None)
    async with bridge.services.db.session() as session:  # a second writer that read "nobody" before the first
        assert not await queries.compare_and_set_assignee(session, conversation_id, "U0SECOND", seen=None)
    assert (await conversation(bridge)).assignee == "U0FIRST"
