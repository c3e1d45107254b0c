"""Approval rules, pause/resume/cancel, restart mid-campaign, the line's rate, the modal."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from sqlalchemy import func, select

from storage.models import Message
from storage.models.campaigns import Campaign, CampaignRecipient
from tests.campaigns.helpers import (
    add_contacts,
    command,
    create_and_approve,
    latest_campaign_id,
    press,
    wait_state,
)
from tests.support.bridge import A2P_CHANNEL, A2P_LINE, ADMIN, APPROVER, DEFAULT_CONFIG, STRANGER

SLOW = DEFAULT_CONFIG.replace('mps = 50\nbrand = "Acme Deals"', 'mps = 5\nbrand = "Acme Deals"')
BOSS = "U0BOSS"
TWO_ROLES = DEFAULT_CONFIG.replace(f'admins = ["{ADMIN}"]', f'admins = ["{ADMIN}", "{APPROVER}"]').replace(
    f'approvers = ["{APPROVER}"]', f'approvers = ["{APPROVER}", "{BOSS}"]'
)


def audience(n: int, start: int = 0) -> list[dict]:
    # Transactional campaigns need no opt-in and ignore quiet hours, so the clock does not matter here.
    return [{"phone": f"+1212555{1000 + start + i:04d}", "first_name": f"P{i}"} for i in range(n)]


def assert_rate(twilio, mps: int) -> None:
    counts = twilio.per_second_counts()
    assert counts and max(counts.values()) <= mps, counts


async def test_approval_rules(make_bridge, slack, twilio):
    bridge = await make_bridge(config=TWO_ROLES)
    await add_contacts(bridge, audience(2))
    answer = await command(slack, bridge, "campaign create name=x to=all at=now text=hi", user=STRANGER)
    assert "Only admins" in answer
    answer = await command(
        slack, bridge, "campaign create name=Notice to=all purpose=transactional text=Hello", user=APPROVER
    )
    assert "created" in answer
    campaign_id = await latest_campaign_id(bridge)
    await wait_state(bridge, slack, campaign_id, "pending_approval")

    assert "another approver" in await command(slack, bridge, f"campaign approve {campaign_id}", user=APPROVER)
    assert "Only approvers" in await command(slack, bridge, f"campaign approve {campaign_id}", user=ADMIN)
    assert "Only admins and approvers" in await command(slack, bridge, f"campaign approve {campaign_id}", user=STRANGER)
    await press(slack, bridge, "campaign_approve", campaign_id, user=APPROVER)  # the button obeys the same rule
    await slack.wait_for(lambda: any("another approver" in e["text"] for e in slack.ephemerals))
    assert (await _state(bridge, campaign_id)) == "pending_approval"
    assert twilio.sent == []

    assert "approved" in await command(slack, bridge, f"campaign approve {campaign_id}", user=BOSS)
    await wait_state(bridge, slack, campaign_id, "completed")
    assert len(twilio.sent) == 2
    listing = await command(slack, bridge, "campaign list", user=BOSS)
    assert f"#{campaign_id} *Notice* — completed" in listing
    shown = await command(slack, bridge, f"campaign show {campaign_id}", user=ADMIN)
    assert "approved (pending_approval → scheduled)" in shown and f"<@{BOSS}>" in shown


async def test_line_kind_and_validation(bridge, slack):
    answer = await command(slack, bridge, "campaign create name=x to=all line=+14155550100 text=hi")
    assert "campaigns go out on a2p or both lines only" in answer
    answer = await command(slack, bridge, "campaign create name=x to=friends at=tomorrow text=hi")
    assert "to=" in answer and "at=" in answer


async def test_pause_resume_cancel_take_effect_within_a_second(make_bridge, slack, twilio):
    bridge = await make_bridge(config=SLOW)
    await add_contacts(bridge, audience(20))
    campaign_id = await create_and_approve(
        slack, bridge, "name=Slow to=all purpose=transactional text=Hello {first_name}"
    )
    await twilio.wait_for(lambda: len(twilio.sent) >= 4)
    assert "paused" in await command(slack, bridge, f"campaign pause {campaign_id}")
    await asyncio.sleep(1.0)  # what the sender already had in hand may still finish
    settled = len(twilio.sent)
    await asyncio.sleep(1.5)
    assert len(twilio.sent) == settled < 20
    async with bridge.services.db.session() as session:
        in_hand = await session.scalar(select(func.count(Message.id)).where(Message.status.in_(("queued", "sending"))))
    assert in_hand == 0  # held, or never queued: nothing is waiting for the sender

    assert "resumed" in await command(slack, bridge, f"campaign resume {campaign_id}")
    await twilio.wait_for(lambda: len(twilio.sent) >= settled + 3)
    assert "cancelled" in await command(slack, bridge, f"campaign cancel {campaign_id}")
    await asyncio.sleep(1.0)
    final = len(twilio.sent)
    await asyncio.sleep(1.5)
    assert len(twilio.sent) == final < 20
    assert (await _state(bridge, campaign_id)) == "cancelled"
    assert max(Counter(s["to"] for s in twilio.sent).values()) == 1
    assert_rate(twilio, 5)
    await slack.wait_for(lambda: any("cancelled" in m["text"] for m in slack.roots(A2P_CHANNEL)))


async def test_restart_mid_campaign_sends_nobody_twice(make_bridge, slack, twilio):
    bridge = await make_bridge(config=SLOW)
    await add_contacts(bridge, audience(25))
    campaign_id = await create_and_approve(
        slack, bridge, "name=Restart to=all purpose=transactional text=Hi {first_name}"
    )
    await twilio.wait_for(lambda: len(twilio.sent) >= 6)
    await bridge.restart()
    await wait_state(bridge, slack, campaign_id, "completed", timeout=30)
    per_number = Counter(s["to"] for s in twilio.sent)
    assert len(per_number) == 25 and max(per_number.values()) == 1
    assert all(s["from"] == A2P_LINE for s in twilio.sent)
    assert_rate(twilio, 5)


async def test_a_number_met_again_in_a_later_step_is_a_duplicate_not_a_second_text(make_bridge, slack, twilio):
    """At 5 MPS a dispatch step takes at most 5 contacts, so the second spelling is read steps after the first."""
    bridge = await make_bridge(config=SLOW)
    people = audience(8)
    await add_contacts(bridge, [*people, {"phone": "(212) 555-1000", "first_name": "Again"}])
    campaign_id = await create_and_approve(
        slack, bridge, "name=Twice to=all purpose=transactional text=Hi {first_name}"
    )
    done = await wait_state(bridge, slack, campaign_id, "completed", timeout=30)
    per_number = Counter(s["to"] for s in twilio.sent)
    assert set(per_number) == {p["phone"] for p in people} and max(per_number.values()) == 1
    assert done.skipped == {"duplicate": 1}
    async with bridge.services.db.session() as session:
        linked = await session.scalar(
            select(func.count())
            .select_from(CampaignRecipient)
            .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.message_id.is_not(None))
        )
    assert linked == 8


async def test_modal_opens_and_submission_validates_then_creates(bridge, slack):
    await command(slack, bridge, "campaign")
    view = next(iter(slack.views.values()))
    assert view["callback_id"] == "campaign_create"
    assert [b["block_id"] for b in view["blocks"]] == ["name", "line", "to", "purpose", "text", "at"]

    def submission(values: dict) -> dict:
        state = {}
        for block_id, value in values.items():
            if block_id in ("line", "purpose"):
                state[block_id] = {"value": {"type": "static_select", "selected_option": {"value": value}}}
            else:
                state[block_id] = {"value": {"type": "plain_text_input", "value": value}}
        return {
            "type": "view_submission",
            "user": {"id": ADMIN, "username": "admin"},
            "trigger_id": "1.2.x",
            "view": {**view, "state": {"values": state}},
        }

    bad = {"name": "", "line": A2P_LINE, "to": "everyone", "purpose": "marketing", "text": "Hi {nickname}", "at": "now"}
    status, body = await slack.send_action(bridge.events_url, submission(bad))
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors" and set(answer["errors"]) == {"name", "to", "text"}

    good = {**bad, "name": "From the modal", "to": "all", "text": "Hi {first_name|there}"}
    status, body = await slack.send_action(bridge.events_url, submission(good))
    assert status == 200 and "errors" not in (body or "")
    async with bridge.services.db.session() as session:
        created = await session.scalar(select(Campaign).where(Campaign.name == "From the modal"))
    assert created is not None and created.created_by == ADMIN and created.audience == "all"


async def _state(bridge, campaign_id: int) -> str:
    async with bridge.services.db.session() as session:
        return (await session.get(Campaign, campaign_id)).state
