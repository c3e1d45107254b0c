"""Escalation policies (steps, repeat, one claim per step), schedules (schedule:NAME, /sms oncall, overrides),
the page buttons, `/sms team remove`, and the config checks of all of it."""

from __future__ import annotations

import asyncio
import json
import tomllib
from datetime import UTC, datetime

import pytest

from bot.clock import ManualClock
from bot.notify.escalation import escalate_due
from bot.settings import ConfigError, parse_config
from tests.notify.helpers import (
    ALICE,
    ALICE_PHONE,
    BOB,
    BOB_PHONE,
    CAROL,
    CAROL_PHONE,
    TOKEN,
    add_people,
    api,
    auth,
    page_message,
    texts_to,
)
from tests.support.bridge import ADMIN, AGENT, CHANNEL, DEFAULT_CONFIG, STRANGER

CONFIG = (
    DEFAULT_CONFIG
    + f"""leads = ["{CAROL}"]

[notify]
api_tokens = ["{TOKEN}"]
default_policy = "default"

[notify.policies.default]
steps = [{{ notify = "schedule:primary", wait_minutes = 5 }}, {{ notify = "policy:leads" }}]
repeat = 1

[notify.policies.leads]
steps = [{{ notify = "group:leads", wait_minutes = 10 }}]

[[schedules]]
name = "primary"
members = ["{ALICE}", "{BOB}"]
rotation = "weekly"
handoff = "Mon 09:00"
timezone = "America/New_York"
start = "2027-03-01"
"""
)


def clock() -> ManualClock:
    # Wed 2027-03-10 10:00 in New York: Bob's week (the second of the rotation). Ahead of real time, so rows
    # stamped with the wall clock are due at once.
    return ManualClock(datetime(2027, 3, 10, 15, 0, tzinfo=UTC))


def _text(body: str) -> str:
    try:
        return json.loads(body).get("text", body)
    except ValueError:
        return body


async def _state(bridge, notification_id: int) -> dict:
    return (await api(bridge, "GET", f"/api/v1/notifications/{notification_id}", headers=auth()))[1]


async def test_policy_steps_repeat_and_each_step_fires_once(make_bridge, slack, twilio):
    add_people(slack)
    manual = clock()
    bridge = await make_bridge(config=CONFIG, clock=manual)
    status, body, _ = await api(
        bridge, "POST", "/api/v1/notify", json={"to": "schedule:primary", "text": "DB down"}, headers=auth()
    )
    assert status == 202 and body["recipients"] == 1
    page = body["id"]
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert texts_to(twilio, BOB_PHONE) == [f"Page {page}: DB down\nReply ACK {page}"]  # on call this week

    manual.advance(minutes=5)
    # Two more scanners at once beside the bridge's own: the step is claimed by one of the three.
    assert sum(await asyncio.gather(escalate_due(bridge.services), escalate_due(bridge.services))) <= 1
    await twilio.wait_for(lambda: len(texts_to(twilio, CAROL_PHONE)) == 1)
    await asyncio.sleep(0.6)  # longer than the bridge's scan interval: a second claim would have texted again
    assert len(texts_to(twilio, CAROL_PHONE)) == 1
    manual.advance(minutes=10)  # repeat: the steps again
    await twilio.wait_for(lambda: len(texts_to(twilio, BOB_PHONE)) == 2)
    manual.advance(minutes=5)
    await twilio.wait_for(lambda: len(texts_to(twilio, CAROL_PHONE)) == 2)
    state = await _state(bridge, page)
    assert (state["policy"], state["step"], state["steps"], state["escalates_at"]) == ("default", 4, 4, None)
    assert [(r["user"], r["step"]) for r in state["recipients"]] == [(BOB, 1), (CAROL, 2), (BOB, 3), (CAROL, 4)]
    manual.advance(minutes=60)
    assert await escalate_due(bridge.services) == 0
    assert len(twilio.sent) == 4 and texts_to(twilio, ALICE_PHONE) == []
    await slack.wait_for(lambda: "step 4 of 4" in page_message(slack, CHANNEL, page)["text"])
    text = page_message(slack, CHANNEL, page)["text"]
    assert "*Step 1* (schedule:primary" in text and "*Step 2* (group:leads" in text and "Last step" in text

    # The Acknowledge button on the page's message.
    message = page_message(slack, CHANNEL, page)
    button = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert (button["action_id"], button["value"]) == ("page_ack", str(page))
    payload = {
        "type": "block_actions",
        "user": {"id": AGENT},
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": message["ts"]},
        "message": {"ts": message["ts"]},
        "trigger_id": "1.2.3",
        "response_url": f"{slack.root}/response/none",
        "actions": [{**button, "block_id": f"page_{page}", "action_ts": "1"}],
    }
    status, _ = await slack.send_action(bridge.events_url, payload)
    assert status == 200
    await slack.wait_for(lambda: f"Acknowledged by <@{AGENT}>" in page_message(slack, CHANNEL, page)["text"])
    assert (await _state(bridge, page))["acknowledged"]["user"] == AGENT
    buttons = [
        e["action_id"]
        for b in page_message(slack, CHANNEL, page)["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert buttons == ["page_resolve"]
    resolve = {**payload, "actions": [{**payload["actions"][0], "action_id": "page_resolve"}]}
    await slack.send_action(bridge.events_url, resolve)
    await slack.wait_for(lambda: f"Resolved by <@{AGENT}>" in page_message(slack, CHANNEL, page)["text"])
    assert (await _state(bridge, page))["status"] == "resolved"


async def test_oncall_now_next_and_overrides(make_bridge, slack, twilio):
    add_people(slack)
    manual = clock()
    bridge = await make_bridge(config=CONFIG, clock=manual)

    async def command(text: str, user: str = ADMIN) -> str:
        return _text((await slack.send_command(bridge.events_url, text=text, user_id=user, channel_id=CHANNEL))[1])

    shown = await command("oncall", STRANGER)
    assert f"<@{BOB}> until Mon 2027-03-15 09:00 EDT; next <@{ALICE}>" in shown
    assert "unknown schedule 'nope'" in await command("oncall nope", STRANGER)
    assert "Only admins" in await command(f"oncall override primary <@{CAROL}> 8h", STRANGER)
    assert "in the past" in await command(f"oncall override primary <@{CAROL}> 2027-03-10 09:00")
    assert "is not a time" in await command(f"oncall override primary <@{CAROL}> tomorrow")
    assert "is not a Slack user" in await command("oncall override primary carol 8h")
    answer = await command(f"oncall override primary <@{CAROL}|carol> 2027-03-10 18:00")
    assert f"<@{CAROL}> is on call for *primary* until Wed 2027-03-10 18:00 EST" in answer
    shown = await command("oncall primary", STRANGER)
    assert f"<@{CAROL}> (override) until Wed 2027-03-10 18:00 EST; next <@{BOB}>" in shown

    _, body = await slack.send_command(
        bridge.events_url, text="notify schedule:primary disk full", user_id=AGENT, channel_id=CHANNEL
    )
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert texts_to(twilio, CAROL_PHONE) == ["Page 1: disk full\nReply ACK 1"]
    manual.advance(hours=9)  # the override is over: Bob again
    await slack.send_command(
        bridge.events_url, text="notify schedule:primary disk 2", user_id=AGENT, channel_id=CHANNEL
    )
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert texts_to(twilio, BOB_PHONE) == ["Page 2: disk 2\nReply ACK 2"]


async def test_team_remove(make_bridge, slack, twilio):
    add_people(slack)
    bridge = await make_bridge(config=CONFIG, clock=clock())

    async def command(text: str, user: str = ADMIN) -> str:
        return _text((await slack.send_command(bridge.events_url, text=text, user_id=user, channel_id=CHANNEL))[1])

    assert "+14155550177" in await command("team add <@U0DAVE> +14155550177 db")
    assert "Only admins" in await command("team remove <@U0DAVE>", STRANGER)
    assert "is not in group *ops*" in await command("team remove <@U0DAVE> ops")
    assert "config file" in await command(f"team remove <@{ALICE}> oncall")
    assert "removed from the roster and 1 group(s)" in await command("team remove <@U0DAVE>")
    assert "is not in the roster" in await command("team remove <@U0DAVE>")
    assert "unknown group 'db'" in await command("notify db hello", AGENT)
    assert twilio.sent == []


def _config(extra: str) -> dict:
    return tomllib.loads(
        '[teams]\noncall = ["U0ALICE"]\n[[schedules]]\nname = "primary"\nmembers = ["U0ALICE"]\n'
        'timezone = "America/New_York"\n' + extra
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[notify.policies.a]\nsteps = [{ notify = "policy:b" }]\n'
            '[notify.policies.b]\nsteps = [{ notify = "policy:a" }]',
            "notify.policies.a: refers to itself (a -> b -> a)",
        ),
        (
            '[notify.policies.a]\nsteps = [{ notify = "schedule:nope", wait_minutes = 5 }]',
            "notify.policies.a.steps[0].notify: schedule 'nope' is not defined",
        ),
        ('[notify.policies.a]\nsteps = [{ notify = "policy:nope" }]', "policy 'nope' is not defined"),
        ('[notify.policies.a]\nsteps = [{ notify = "group:nope", wait_minutes = 5 }]', "group 'nope' is not defined"),
        ('[notify.policies.a]\nsteps = [{ notify = "group:oncall", wait_minutes = 0 }]', "wait_minutes: 0 must be"),
        ('[notify.policies.a]\nsteps = [{ notify = "group:oncall", wait_minutes = 5 }]\nrepeat = -1', "repeat: -1"),
        ('[notify]\ndefault_policy = "nope"', "notify.default_policy: policy 'nope' is not defined"),
        (
            '[[schedules]]\nname = "empty"\nmembers = []\ntimezone = "UTC"',
            "schedules[1] (empty).members: the rotation is empty",
        ),
        (
            '[[schedules]]\nname = "x"\nmembers = ["U0A"]\ntimezone = "Mars/Olympus"',
            "'Mars/Olympus' is not an IANA time zone",
        ),
        ('[[schedules]]\nname = "x"\nmembers = ["U0A"]\ntimezone = "UTC"\nhandoff = "09:00"', "needs a weekday"),
        (
            '[[schedules]]\nname = "x"\nmembers = ["U0A"]\ntimezone = "UTC"\nrotation = "hourly"',
            "must be daily or weekly",
        ),
        ('[[schedules]]\nname = "primary"\nmembers = ["U0A"]\ntimezone = "UTC"', "schedule 'primary' is defined twice"),
    ],
)
def test_bad_paging_config_stops_start_up_naming_it(extra, message):
    with pytest.raises(ConfigError) as error:
        parse_config(_config(extra))
    assert message in str(error.value)


def test_policy_steps_are_flattened():
    parsed = parse_config(
        _config(
            '[notify.policies.a]\nsteps = [{ notify = "group:oncall", wait_minutes = 5 }, { notify = "policy:b" }]\n'
            'repeat = 2\n[notify.policies.b]\nsteps = [{ notify = "schedule:primary", wait_minutes = 7 }]'
        )
    )
    policy = parsed["notify"].policies["a"]
    assert [(s.notify, s.wait_minutes) for s in policy.steps] == [("group:oncall", 5), ("schedule:primary", 7)]
    assert policy.total_steps == 6
