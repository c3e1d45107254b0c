"""`/sms optout`, `/sms optin`, `/sms consent` over real HTTP: permissions, answers, ledger, card refresh."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.permissions import refusal
from storage.models import ConsentEvent, SlackOutbox
from tests.support.bridge import ADMIN, AGENT, APPROVER, CHANNEL, LINE, thread_texts

CUSTOMER = "+14155550123"
ELSEWHERE = "C0GENERAL"


async def command(bridge, slack, text: str, *, user: str = ADMIN, channel: str = CHANNEL) -> str:
    status, body = await slack.send_command(bridge.events_url, text=text, user_id=user, channel_id=channel)
    assert status == 200, body
    answer = json.loads(body)
    assert answer.get("response_type") == "ephemeral"
    return answer["text"]


async def ledger(bridge) -> list[ConsentEvent]:
    async with bridge.services.db.session() as session:
        return list((await session.scalars(select(ConsentEvent).order_by(ConsentEvent.id))).all())


@pytest.mark.parametrize(
    "text",
    [
        f"optout {CUSTOMER}",
        f"optin {CUSTOMER} source=web-form",
        f"consent {CUSTOMER}",
        "contacts import",
    ],
)
@pytest.mark.parametrize("user", [AGENT, APPROVER])
async def test_members_and_approvers_are_refused(bridge, slack, text, user):
    answer = await command(bridge, slack, text, user=user)
    assert answer == refusal("admins")
    assert await ledger(bridge) == []
    assert slack.views == {}


async def test_optout_in_a_line_channel_applies_to_that_line_and_refreshes_the_card(bridge, slack, twilio):
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="hello")
    await slack.wait_for(
        lambda: len(slack.roots(CHANNEL)) == 1 and thread_texts(slack, CHANNEL, slack.roots(CHANNEL)[0]["ts"])
    )
    root = slack.roots(CHANNEL)[0]

    answer = await command(bridge, slack, "optout (415) 555-0123 asked by phone, ticket 42")
    assert answer.startswith(f":no_entry: {CUSTOMER} is opted out of the Acme +1 415-555-0100 line")

    [event] = await ledger(bridge)
    line = bridge.services.lines.by_channel(CHANNEL)
    assert (event.phone, event.action, event.scope, event.source, event.line_id, event.actor) == (
        CUSTOMER,
        "opt_out",
        "all",
        "slack",
        line.id,
        ADMIN,
    )
    assert "asked by phone, ticket 42" in event.evidence

    await slack.wait_for(
        lambda: "opted out" in json.dumps(slack.message(CHANNEL, root["ts"])["blocks"]),
        what="the card shows the opt-out",
    )
    await slack.wait_for(lambda: any("/sms optout" in m["text"] for m in slack.thread(CHANNEL, root["ts"])))

    # Now nothing goes to that number from this line.
    refused = await command(bridge, slack, f"send {CUSTOMER} are you there?", user=AGENT)
    assert refused.startswith(":no_entry: Not sent")
    # The opt-out itself is confirmed to the number, once.
    await twilio.wait_for(lambda: len(twilio.sent) == 1, what="the opt-out confirmation")
    assert twilio.sent[0]["to"] == CUSTOMER and "unsubscribed" in twilio.sent[0]["body"]
    again = await command(bridge, slack, f"optout {CUSTOMER}")
    assert "already opted out" in again
    assert len(await ledger(bridge)) == 1
    assert len(twilio.sent) == 1


async def test_optout_elsewhere_applies_to_every_line(bridge, slack):
    answer = await command(bridge, slack, f"optout {CUSTOMER}", channel=ELSEWHERE)
    assert "every line" in answer
    [event] = await ledger(bridge)
    assert event.line_id is None and event.source == "slack"


@pytest.mark.parametrize("raw", ["+1415555", "not-a-number", "+999123"])
async def test_bad_numbers_are_quoted_and_change_nothing(bridge, slack, raw):
    for text in (f"optout {raw}", f"optin {raw} source=form", f"consent {raw}"):
        answer = await command(bridge, slack, text)
        assert f"'{raw}'" in answer and answer.startswith(":warning:")
    assert await ledger(bridge) == []


async def test_optin_needs_a_source_and_a_valid_scope(bridge, slack):
    assert "source=" in await command(bridge, slack, f"optin {CUSTOMER}")
    assert "scope 'everything'" in await command(bridge, slack, f"optin {CUSTOMER} source=form scope=everything")
    assert "twice" in await command(bridge, slack, f"optin {CUSTOMER} source=a source=b")
    assert await ledger(bridge) == []


async def test_a_source_of_several_words_needs_quotes_and_unknown_options_are_named(bridge, slack):
    answer = await command(bridge, slack, f"optin {CUSTOMER} source=signed paper form")
    assert answer.startswith(":warning:") and 'source="signed paper form"' in answer and "Nothing was changed" in answer
    answer = await command(bridge, slack, f"optin {CUSTOMER} sorce=form")
    assert "`sorce=` is not an option" in answer
    assert await ledger(bridge) == []
    answer = await command(bridge, slack, f"optin {CUSTOMER} source=“signed paper form” scope=marketing")
    assert "source: signed paper form" in answer
    [event] = await ledger(bridge)
    assert "consent source: signed paper form" in event.evidence


async def test_optin_records_scope_source_and_evidence(bridge, slack):
    answer = await command(
        bridge, slack, f'optin {CUSTOMER} source="paper form" scope=marketing signed at the counter', channel=ELSEWHERE
    )
    assert answer.startswith(f":white_check_mark: {CUSTOMER} is opted in (marketing) on every line, source: paper form")
    [event] = await ledger(bridge)
    assert (event.action, event.scope, event.source, event.line_id, event.actor) == (
        "opt_in",
        "marketing",
        "slack",
        None,
        ADMIN,
    )
    assert "consent source: paper form" in event.evidence and "signed at the counter" in event.evidence


async def test_optin_of_one_scope_warns_when_an_opt_out_still_holds(bridge, slack):
    await command(bridge, slack, f"optout {CUSTOMER}")
    answer = await command(bridge, slack, f"optin {CUSTOMER} source=call scope=marketing")
    assert "still opted out for: transactional" in answer


async def test_consent_shows_state_and_history_newest_first(bridge, slack):
    assert "No consent events on record" in await command(bridge, slack, f"consent {CUSTOMER}")
    await command(bridge, slack, f"optin {CUSTOMER} source=web-form", channel=ELSEWHERE)
    await command(bridge, slack, f"optout {CUSTOMER} moved away")
    answer = await command(bridge, slack, f"consent {CUSTOMER}")
    assert "Now on Acme +1 415-555-0100: transactional opted out, marketing opted out" in answer
    history = answer.split("History, newest first (2 events):\n")[1].splitlines()
    assert "opt-out" in history[0] and "moved away" in history[0] and f"<@{ADMIN}>" in history[0]
    assert "Acme +1 415-555-0100" in history[0] and "source slack" in history[0]
    assert "opt-in" in history[1] and "all lines" in history[1] and "consent source: web-form" in history[1]
    assert "<!date^" in history[0]  # the time, shown in each reader's zone
    assert "&lt;@" not in answer and f"opted out by <@{ADMIN}> with /sms optout" in history[0]  # escaped once only

    # Elsewhere: every line's state; the other line only sees the all-line opt-in.
    everywhere = await command(bridge, slack, f"consent {CUSTOMER}", channel=ELSEWHERE)
    assert "Now on Acme Deals +1 415-555-0199: transactional opted in, marketing opted in" in everywhere


async def test_usage_and_help(bridge, slack):
    assert "Usage" in await command(bridge, slack, "optout")
    assert "Usage" in await command(bridge, slack, "contacts export")
    help_text = await command(bridge, slack, "help", user=AGENT)
    for word in ("optout +1", "optin +1", "consent +1", "contacts import"):
        assert word in help_text


async def test_optout_without_a_conversation_queues_no_slack_calls(bridge, slack):
    await command(bridge, slack, f"optout {CUSTOMER}")
    async with bridge.services.db.session() as session:
        assert (await session.scalars(select(SlackOutbox))).all() == []
