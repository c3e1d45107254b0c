"""Shared set-up for the notify tests: config with API tokens, teams and escalation; team members in Slack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp

from bot.clock import ManualClock
from tests.support.bridge import DEFAULT_CONFIG

TOKEN = "test-api-token-0123456789abcdef"
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
ALICE_PHONE, BOB_PHONE, CAROL_PHONE = "+14155550111", "+14155550112", "+14155550113"

CONFIG = (
    DEFAULT_CONFIG
    + f"""leads = ["{CAROL}"]
quiet = []

[notify]
api_tokens = ["{TOKEN}"]
escalation_minutes = 10
escalation = {{oncall = "leads"}}

[alertmanager]
routes = {{"team-db" = "leads", "payments" = "leads"}}
default_group = "oncall"
"""
)


def add_people(slack, *, bob_phone: str = BOB_PHONE) -> None:
    slack.add_user(ALICE, real_name="Alice Example", phone=ALICE_PHONE)
    slack.add_user(BOB, real_name="Bob Example", phone=bob_phone)
    slack.add_user(CAROL, real_name="Carol Lead", phone=CAROL_PHONE)


def manual_clock() -> ManualClock:
    # Ahead of real time: rows stamped with the wall clock (outbox defaults) are due at once.
    return ManualClock(datetime.now(UTC) + timedelta(hours=1))


def auth(token: str = TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def api(bridge, method: str, path: str, *, json=None, data=None, headers=None) -> tuple[int, dict, dict]:
    """One real HTTP request to the bridge; returns (status, JSON body or {"raw": text}, headers)."""
    async with aiohttp.ClientSession() as session:
        async with session.request(method, bridge.url + path, json=json, data=data, headers=headers) as resp:
            text = await resp.text()
            try:
                import json as _json

                body = _json.loads(text)
            except ValueError:
                body = {"raw": text}
            return resp.status, body, dict(resp.headers)


def texts_to(twilio, phone: str) -> list[str]:
    return [m["body"] for m in twilio.sent if m["to"] == phone]


def page_message(slack, channel: str, number: int) -> dict | None:
    """The Slack message of page #number in `channel`."""
    return next((m for m in slack.messages.get(channel, []) if f"#{number} " in m["text"]), None)
