"""Seeding contacts and consent, driving campaigns through the real `/sms` command and buttons."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.compliance import consent
from storage.models import Contact, ContactTag
from storage.models.campaigns import Campaign
from tests.support.bridge import A2P_CHANNEL, ADMIN, APPROVER


async def add_contacts(bridge, rows: list[dict]) -> None:
    """rows: phone, first_name, tags, consent ("in" | "out" | None), number_status."""
    async with bridge.services.db.session() as session:
        for row in rows:
            contact = Contact(
                phone=row["phone"], first_name=row.get("first_name", ""), number_status=row.get("number_status", "ok")
            )
            session.add(contact)
            await session.flush()
            for tag in row.get("tags", ()):
                session.add(ContactTag(contact_id=contact.id, tag=tag))
            if row.get("consent") in ("in", "out"):
                await consent.record(
                    session,
                    phone=row["phone"],
                    action="opt_in",
                    source="import",
                    scope="marketing",
                    evidence="test fixture",
                )
            if row.get("consent") == "out":
                await consent.record(session, phone=row["phone"], action="opt_out", source="keyword")


async def command(slack, bridge, text: str, user: str = ADMIN, channel: str = A2P_CHANNEL) -> str:
    status, body = await slack.send_command(bridge.url + "/slack/events", text=text, user_id=user, channel_id=channel)
    assert status == 200, body
    try:
        return json.loads(body).get("text", "")
    except ValueError:
        return body


async def campaign(bridge, campaign_id: int) -> Campaign:
    async with bridge.services.db.session() as session:
        return await session.get(Campaign, campaign_id)


async def wait_state(bridge, slack, campaign_id: int, state: str, timeout: float = 15.0) -> Campaign:
    found = {}

    async def check():
        found["c"] = await campaign(bridge, campaign_id)
        return found["c"] is not None and found["c"].state == state

    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"campaign {campaign_id} is {found['c'] and found['c'].state}, not {state}"
        await asyncio.sleep(0.05)
    return found["c"]


async def latest_campaign_id(bridge) -> int:
    async with bridge.services.db.session() as session:
        return await session.scalar(select(Campaign.id).order_by(Campaign.id.desc()).limit(1))


async def press(slack, bridge, action_id: str, campaign_id: int, user: str = APPROVER) -> None:
    status, body = await slack.send_action(
        bridge.url + "/slack/events",
        {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower()},
            "channel": {"id": A2P_CHANNEL},
            "trigger_id": "1.2.abc",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": f"campaign_{campaign_id}",
                    "value": str(campaign_id),
                    "action_ts": "1.0",
                }
            ],
        },
    )
    assert status == 200, body


async def create_and_approve(slack, bridge, text: str, approver: str = APPROVER) -> int:
    answer = await command(slack, bridge, "campaign create " + text)
    assert "created" in answer, answer
    campaign_id = await latest_campaign_id(bridge)
    await wait_state(bridge, slack, campaign_id, "pending_approval")
    await press(slack, bridge, "campaign_approve", campaign_id, approver)
    return campaign_id
