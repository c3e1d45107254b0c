"""Who may do what: every /sms subcommand, every button and every API route, for each kind of person.

Roles: admin (in `admins`), approver (in `approvers`), member (anyone else in a line channel), stranger
(an unknown user; an API caller without a token). A refusal must say so and change nothing.
"""

from __future__ import annotations

import json

import aiohttp
import pytest
from sqlalchemy import func, select

from storage.models import ConsentEvent, Message
from storage.models.campaigns import Campaign
from tests.support.bridge import A2P_CHANNEL, ADMIN, AGENT, APPROVER, CHANNEL, DEFAULT_CONFIG, STRANGER

ROLES = {"admin": ADMIN, "approver": APPROVER, "member": AGENT, "stranger": STRANGER}
TOKEN = "test-api-token-0123456789"
CONFIG = DEFAULT_CONFIG + f'\n[notify]\napi_tokens = ["{TOKEN}"]\n\n[alertmanager]\ndefault_group = "oncall"\n'

# subcommand text -> roles allowed (the design's "who" column)
COMMANDS = {
    "help": {"admin", "approver", "member", "stranger"},
    "send +14155550177 hello": {"admin", "approver", "member", "stranger"},
    "campaign create name=x to=all at=now text=Hello": {"admin"},
    "campaign list": {"admin", "approver"},
    "campaign show 1": {"admin", "approver"},
    "campaign pause 1": {"admin", "approver"},
    "campaign resume 1": {"admin", "approver"},
    "campaign cancel 1": {"admin", "approver"},
    "campaign report 1": {"admin", "approver"},
    "optout +14155550178": {"admin"},
    "optin +14155550179 source=paper": {"admin"},
    "consent +14155550178": {"admin"},
    "team add <@U0CAROL> +14155550180": {"admin"},
    "team list": {"admin"},
    "team remove <@U0CAROL>": {"admin"},
    "oncall": {"admin", "approver", "member", "stranger"},
    "oncall override primary <@U0CAROL> 8h": {"admin"},
    "notify oncall hello": {"admin", "approver", "member", "stranger"},
    "inbox": {"admin", "approver", "member", "stranger"},
    "find 555": {"admin", "approver", "member", "stranger"},
    "assign +14155550177 <@U0AGENT>": {"admin", "approver", "member", "stranger"},
    "resolve +14155550177": {"admin", "approver", "member", "stranger"},
    "snippet list": {"admin", "approver", "member", "stranger"},
    "snippet add greet Hello {first_name|there}": {"admin"},
    "snippet delete greet": {"admin"},
}


def answer_text(body: str) -> str:
    try:
        return json.loads(body).get("text", "")
    except ValueError:
        return body


@pytest.mark.parametrize("command", sorted(COMMANDS))
async def test_every_subcommand_is_refused_to_whoever_may_not_run_it(make_bridge, slack, command):
    bridge = await make_bridge(config=CONFIG)
    for role, user in ROLES.items():
        channel = A2P_CHANNEL if command.startswith("campaign") else CHANNEL
        status, body = await slack.send_command(bridge.events_url, text=command, user_id=user, channel_id=channel)
        assert status == 200, (role, body)
        refused = answer_text(body).startswith(":lock:") or "Only approvers" in answer_text(body)
        assert refused == (role not in COMMANDS[command]), f"{role} running {command!r}: {answer_text(body)[:200]}"


async def test_refused_commands_change_nothing(make_bridge, slack):
    bridge = await make_bridge(config=CONFIG)
    for command in (
        "optout +14155550178",
        "optin +14155550179 source=paper",
        "campaign create name=x to=all at=now text=Hello",
    ):
        await slack.send_command(bridge.events_url, text=command, user_id=AGENT, channel_id=A2P_CHANNEL)
    async with bridge.services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ConsentEvent)) == 0
        assert await session.scalar(select(func.count()).select_from(Campaign)) == 0


async def test_campaign_buttons_respect_roles(make_bridge, slack):
    bridge = await make_bridge(config=CONFIG)
    await slack.send_command(
        bridge.events_url, text="campaign create name=x to=all at=now text=Hello", user_id=ADMIN, channel_id=A2P_CHANNEL
    )
    await slack.wait_for(
        lambda: any(
            e.get("action_id") == "campaign_approve"
            for m in slack.messages.get(A2P_CHANNEL, [])
            for b in (m.get("blocks") or [])
            for e in b.get("elements", [])
        ),
        timeout=20,
    )
    preview = next(
        m
        for m in slack.messages[A2P_CHANNEL]
        if any(e.get("action_id") == "campaign_approve" for b in (m.get("blocks") or []) for e in b.get("elements", []))
    )

    async def click(user: str, action_id: str) -> str:
        payload = {
            "type": "block_actions",
            "user": {"id": user},
            "channel": {"id": A2P_CHANNEL},
            "message": {"ts": preview["ts"]},
            "container": {"type": "message", "message_ts": preview["ts"]},
            "trigger_id": "1.2.3",
            "response_url": slack.root + "/response/x",
            "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": "1"}],
        }
        status, _ = await slack.send_action(bridge.events_url, payload)
        assert status == 200
        async with bridge.services.db.session() as session:
            return (await session.get(Campaign, 1)).state

    for user in (AGENT, STRANGER, ADMIN):  # members, strangers and the creator cannot approve
        assert await click(user, "campaign_approve") == "pending_approval"
    assert await click(STRANGER, "campaign_cancel") == "pending_approval"
    assert await click(APPROVER, "campaign_approve") != "pending_approval"


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/api/v1/notify", {"to": "group:oncall", "text": "hi"}),
        ("GET", "/api/v1/notifications/1", None),
        (
            "POST",
            "/api/v1/alertmanager",
            {
                "version": "4",
                "status": "firing",
                "receiver": "oncall",
                "groupKey": "k",
                "groupLabels": {},
                "commonLabels": {},
                "commonAnnotations": {},
                "externalURL": "http://am",
                "alerts": [],
            },
        ),
    ],
)
async def test_api_routes_need_a_valid_bearer_token(make_bridge, method, path, body):
    bridge = await make_bridge(config=CONFIG)
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": f"Basic {TOKEN}"}):
            async with http.request(method, bridge.url + path, json=body, headers=headers) as resp:
                assert resp.status == 401, (headers, await resp.text())
                assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer")
    async with bridge.services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0
