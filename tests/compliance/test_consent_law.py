"""Consent that holds up in law (issue 16), end to end: signed Twilio webhooks in, Slack and SMS out.

YES opts nobody in by itself; STOPALL covers every line; one confirmation per opt-out; stop requests in plain
words hold marketing at once and are confirmed before 10 business days pass; join keywords with double opt-in.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.compliance import consent, gate, requests
from bot.compliance.business_days import auto_confirm_at, is_business_day
from bot.conversations import optouts
from storage.models import ConsentEvent, ConsentRequest, Message
from tests.campaigns.helpers import add_contacts, command, create_and_approve, wait_state
from tests.compliance.test_keyword_flow import card, events, open_thread, settled, thread_json
from tests.support.bridge import A2P_CHANNEL, A2P_LINE, AGENT, CHANNEL, LINE

CUSTOMER = "+14155550123"
# A Monday 10:00 in San Francisco (17:00 UTC): inside quiet hours' allowed window.
MONDAY = datetime(2030, 6, 3, 17, 0, tzinfo=UTC)


async def press(bridge, slack, action_id: str, value: str, user: str = AGENT, channel: str = CHANNEL) -> None:
    status, _ = await slack.send_action(
        bridge.events_url,
        {
            "type": "block_actions",
            "user": {"id": user},
            "channel": {"id": channel},
            "trigger_id": "1.2.3",
            "response_url": f"{slack.root}/response/none",
            "actions": [{"type": "button", "action_id": action_id, "value": value, "block_id": "b", "action_ts": "1"}],
        },
    )
    assert status == 200


async def marketing_decision(bridge, line: str = A2P_LINE):
    """What the send gate says now of a marketing text to CUSTOMER from `line`."""
    services = bridge.services
    async with services.db.session() as session:
        message = Message(
            line_id=services.lines.by_key(line).id,
            direction="out",
            phone=CUSTOMER,
            body="Deal!",
            status="sending",
            purpose="marketing",
            origin="campaign",
        )
        session.add(message)
        await session.flush()
        config = services.settings.compliance
        decision = await gate.check(
            session, message, config=config, policy=gate.quiet_policy(config), now=services.clock.now()
        )
        await session.rollback()
    return decision


async def opted_in_to_marketing(bridge) -> None:
    async with bridge.services.db.session() as session:
        await consent.record(session, phone=CUSTOMER, action="opt_in", source="import", scope="marketing")


# -- finding 1: "Yes" to an agent's question is an ordinary message ---------------------------------------------


async def test_yes_to_an_agents_question_opts_nobody_in(bridge, slack, twilio):
    root = await open_thread(bridge, slack, twilio, body="Can you deliver on Friday?")
    await slack.user_message(
        bridge.events_url, channel=CHANNEL, user=AGENT, text="Yes we can. Shall I book it?", thread_ts=root["ts"]
    )
    await twilio.wait_for(lambda: len(twilio.sent) == 1, what="the agent's reply")
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="Yes")
    await slack.wait_for(lambda: "Yes" in [m.get("text") for m in slack.thread(CHANNEL, root["ts"])])
    assert await events(bridge) == []
    assert len(twilio.sent) == 1  # no "You are resubscribed"
    assert "keyword" not in thread_json(slack, root).lower()
    assert (await marketing_decision(bridge, LINE)).reason == "no marketing opt-in on record for this number"


async def test_yes_while_opted_out_acts_as_start(bridge, slack, twilio):
    root = await open_thread(bridge, slack, twilio)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="STOP")
    await settled(bridge, slack, twilio, root, 1)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="yes")
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert "resubscribed" in twilio.sent[1]["body"]
    assert [e.action for e in await events(bridge)] == ["opt_out", "lift"]
    # Lifting the opt-out is no marketing consent.
    assert "no marketing opt-in" in (await marketing_decision(bridge, LINE)).reason


async def test_start_restores_the_marketing_opt_in_the_stop_had_overridden(make_bridge, slack, twilio):
    bridge = await make_bridge(clock=ManualClock(MONDAY))
    await opted_in_to_marketing(bridge)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=A2P_LINE, body="STOP")
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert (await marketing_decision(bridge)).action == "block"
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=A2P_LINE, body="START")
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert (await marketing_decision(bridge)).allowed


# -- finding 2: STOPALL covers every line -----------------------------------------------------------------------


async def test_stopall_opts_out_of_every_line(bridge, slack, twilio):
    root = await open_thread(bridge, slack, twilio)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="stopall!")
    await settled(bridge, slack, twilio, root, 1)
    [event] = await events(bridge)
    assert (event.action, event.line_id) == ("opt_out", None)
    assert "any of our numbers" in twilio.sent[0]["body"]
    status, body = await slack.send_command(
        bridge.events_url, text=f"send {CUSTOMER} a deal", user_id=AGENT, channel_id=A2P_CHANNEL
    )
    assert json.loads(body)["text"].startswith(":no_entry: Not sent")
    assert len(twilio.sent) == 1


# -- finding 4: exactly one confirmation per opt-out --------------------------------------------------------------


async def test_a_repeated_stop_gets_no_second_confirmation(bridge, slack, twilio):
    root = await open_thread(bridge, slack, twilio)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="STOP")
    await settled(bridge, slack, twilio, root, 1)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="stop.")
    await slack.wait_for(lambda: "already opted out" in thread_json(slack, root), what="the repeated STOP's note")
    assert len(twilio.sent) == 1
    assert len(await events(bridge)) == 1


async def test_the_threads_opt_out_button_texts_one_confirmation(bridge, slack, twilio):
    root = await open_thread(bridge, slack, twilio)
    await press(bridge, slack, "conversation_opt_out", CUSTOMER)
    await twilio.wait_for(lambda: len(twilio.sent) == 1, what="the confirmation")
    assert "unsubscribed" in twilio.sent[0]["body"] and twilio.sent[0]["to"] == CUSTOMER
    await press(bridge, slack, "conversation_opt_out", CUSTOMER)
    await slack.wait_for(lambda: "opted out" in card(slack, root))
    assert len(twilio.sent) == 1 and len(await events(bridge)) == 1


# -- finding 3: stop requests in plain words ----------------------------------------------------------------------


@pytest.mark.parametrize("body", ["stop please", "STOP 🛑", "Who is this? STOP", "please stop texting me"])
async def test_a_stop_request_holds_marketing_at_once(make_bridge, slack, twilio, body):
    bridge = await make_bridge(clock=ManualClock(MONDAY))
    await opted_in_to_marketing(bridge)
    assert (await marketing_decision(bridge)).allowed
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=A2P_LINE, body=body)
    await slack.wait_for(lambda: slack.roots(A2P_CHANNEL) and "stop_request_confirm" in json.dumps(slack.messages))
    decision = await marketing_decision(bridge)
    assert decision.action == "block" and "asked to stop" in decision.reason
    assert twilio.sent == []
    assert [e.action for e in await events(bridge)] == ["opt_in"]  # held, not yet opted out


async def test_not_an_opt_out_lifts_the_hold(make_bridge, slack, twilio):
    bridge = await make_bridge(clock=ManualClock(MONDAY))
    await opted_in_to_marketing(bridge)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=A2P_LINE, body="stop please")
    await slack.wait_for(lambda: "stop_request_dismiss" in json.dumps(slack.messages))
    async with bridge.services.db.session() as session:
        [request] = (await session.scalars(select(ConsentRequest))).all()
    await press(bridge, slack, "stop_request_dismiss", str(request.id))  # from another line's channel: refused
    assert (await marketing_decision(bridge)).action == "block"
    await press(bridge, slack, "stop_request_dismiss", str(request.id), channel=A2P_CHANNEL)
    assert (await marketing_decision(bridge)).allowed
    await press(bridge, slack, "stop_request_confirm", str(request.id), channel=A2P_CHANNEL)  # too late: decided
    assert [e.action for e in await events(bridge)] == ["opt_in"] and twilio.sent == []


async def test_an_undecided_request_is_confirmed_once_before_ten_business_days(make_bridge, slack, twilio):
    clock = ManualClock(MONDAY)
    bridge = await make_bridge(clock=clock)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="please remove me from your list")
    await slack.wait_for(lambda: "stop_request_confirm" in json.dumps(slack.messages))
    async with bridge.services.db.session() as session:
        [request] = (await session.scalars(select(ConsentRequest))).all()
    # Received Monday 2030-06-03: the tenth business day after it is Monday 06-17, confirmed as it starts.
    assert request.due_at == auto_confirm_at(MONDAY) == datetime(2030, 6, 17, 4, 0, tzinfo=UTC)

    clock.set(request.due_at - timedelta(seconds=1))
    assert await optouts.confirm_due(bridge.services) == 0
    clock.set(request.due_at)
    # Two replicas scanning at the same moment: one opt-out, one confirmation.
    assert await optouts.confirm_due(bridge.services) + await optouts.confirm_due(bridge.services) == 1
    [event] = await events(bridge)
    assert (event.action, event.source, event.actor, event.line_id) == ("opt_out", "request", None, request.line_id)
    assert "remove me from your list" in event.evidence and event.message_id == request.message_id
    await twilio.wait_for(lambda: len(twilio.sent) == 1, what="the one confirmation")
    assert "unsubscribed" in twilio.sent[0]["body"]
    await slack.wait_for(lambda: "Nobody decided the stop request in time" in json.dumps(slack.messages))


def test_business_days_skip_weekends_and_federal_holidays():
    assert not is_business_day(datetime(2026, 7, 3).date())  # Independence Day observed (a Friday)
    assert not is_business_day(datetime(2026, 11, 26).date())  # Thanksgiving
    assert not is_business_day(datetime(2026, 12, 5).date())  # a Saturday
    assert is_business_day(datetime(2026, 12, 7).date())
    # Wednesday 2026-12-23: Christmas and New Year's Day fall in the ten business days.
    due = auto_confirm_at(datetime(2026, 12, 23, 15, 0, tzinfo=UTC))
    assert due == datetime(2027, 1, 8, 5, 0, tzinfo=UTC)  # the start of the tenth business day, Eastern time


async def test_confirm_due_ignores_decided_requests(database):
    async with database.session() as session:
        from storage.models import Line

        line = Line(key=LINE, channel=CHANNEL)
        session.add(line)
        await session.flush()
        request = await requests.open_request(
            session,
            requests.STOP,
            phone=CUSTOMER,
            line_id=line.id,
            conversation_id=None,
            message_id=None,
            received_at=MONDAY,
        )
        assert await requests.held(session, [CUSTOMER]) == {CUSTOMER}
        assert await requests.decide(session, request.id, "dismissed", by=AGENT, at=MONDAY)
        assert not await requests.decide(session, request.id, "confirmed", by=None, at=MONDAY)
        assert await requests.held(session, [CUSTOMER]) == set()
        assert await requests.due(session, MONDAY + timedelta(days=30)) == []
        assert (await session.scalars(select(ConsentEvent))).all() == []


# -- finding 6: an opt-out counts against the last campaign the number received -----------------------------------


async def test_an_opt_out_counts_against_the_last_campaign_only(make_bridge, slack, twilio):
    clock = ManualClock(MONDAY)
    bridge = await make_bridge(clock=clock)
    await add_contacts(bridge, [{"phone": CUSTOMER, "consent": "in", "tags": ["vip"]}])
    first = await create_and_approve(slack, bridge, "name=First to=tag:vip at=now text=First deal")
    await wait_state(bridge, slack, first, "completed")
    clock.advance(hours=1)
    second = await create_and_approve(slack, bridge, "name=Second to=tag:vip at=now text=Second deal")
    await wait_state(bridge, slack, second, "completed")
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    clock.advance(hours=1)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=A2P_LINE, body="STOP")
    await twilio.wait_for(lambda: len(twilio.sent) == 3)

    assert "Opt-outs within 72 h of a campaign text: 0" in await command(slack, bridge, f"campaign report {first}")
    assert "Opt-outs within 72 h of a campaign text: 1" in await command(slack, bridge, f"campaign report {second}")


# -- opt-in only with evidence: join keywords, double opt-in, the evidence export ---------------------------------


async def test_a_join_keyword_opts_in_to_marketing_with_the_text_as_evidence(make_bridge, slack, twilio):
    bridge = await make_bridge(clock=ManualClock(MONDAY))
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="join!")
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert "subscribed to marketing" in twilio.sent[0]["body"]
    [event] = await events(bridge)
    assert (event.action, event.scope, event.source, event.line_id) == ("opt_in", "all", "keyword", 1)
    assert "join!" in event.evidence and event.message_id is not None
    assert (await marketing_decision(bridge, LINE)).allowed


async def test_double_opt_in_waits_for_yes(make_bridge, slack, twilio):
    bridge = await make_bridge(clock=ManualClock(MONDAY))
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=A2P_LINE, body="Deals")
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert "Reply YES to confirm" in twilio.sent[0]["body"]
    assert await events(bridge) == []
    assert "no marketing opt-in" in (await marketing_decision(bridge)).reason

    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=A2P_LINE, body="YES")
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert "subscribed to marketing" in twilio.sent[1]["body"]
    [event] = await events(bridge)
    assert event.action == "opt_in" and "'Deals'" in event.evidence and "'YES'" in event.evidence
    assert (await marketing_decision(bridge)).allowed

    # A later "Yes" (to an agent's question) is an ordinary message again.
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=A2P_LINE, body="Yes")
    await slack.wait_for(lambda: '"Yes"' in json.dumps(slack.messages), what="the Yes in the thread")
    assert len(await events(bridge)) == 1


async def test_consent_export_lists_every_event_with_its_evidence(make_bridge, slack, twilio, tmp_path):
    import csv
    import io

    from bot.contacts.consent_export import export_consent_csv

    bridge = await make_bridge(clock=ManualClock(MONDAY))
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="JOIN")
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="-stop-")
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    async with bridge.services.db.session() as session:
        text = await export_consent_csv(session, CUSTOMER)
        assert (await export_consent_csv(session, "+12125550000")).count("\n") == 1  # the header only
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["action"], r["source"], r["phone"], r["line"]) for r in rows] == [
        ("opt_in", "keyword", CUSTOMER, LINE),
        ("opt_out", "keyword", CUSTOMER, LINE),
    ]
    assert rows[0]["message_text"] == "JOIN" and rows[0]["message_sid"].startswith("SM")
    assert rows[1]["message_text"] == "'-stop-"  # a formula-looking text is escaped
    assert rows[0]["recorded_at"] == "2030-06-03T17:00:00Z"


async def test_join_after_stop_is_confirmed_by_yes_not_read_as_start(make_bridge, slack, twilio):
    bridge = await make_bridge(clock=ManualClock(MONDAY))
    for body, answered in (("STOP", "unsubscribed"), ("DEALS", "Reply YES"), ("yes", "subscribed to marketing")):
        await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=A2P_LINE, body=body)
        await twilio.wait_for(lambda answered=answered: answered in (twilio.sent[-1]["body"] if twilio.sent else ""))
    assert [e.action for e in await events(bridge)] == ["opt_out", "opt_in"]
    assert (await marketing_decision(bridge)).allowed
