"""Campaign checks of issue 16 (finding 9), through the real `/sms` command and buttons."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.clock import ManualClock
from storage.models import Message
from storage.models.campaigns import Campaign
from tests.campaigns.helpers import (
    add_contacts,
    campaign,
    command,
    create_and_approve,
    latest_campaign_id,
    press,
    wait_state,
)
from tests.support.bridge import A2P_CHANNEL, A2P_LINE

NOW = datetime(2030, 6, 3, 17, 0, tzinfo=UTC)  # 10:00 in San Francisco
PHONE = "+14155550111"


async def test_a_campaign_with_no_eligible_recipient_cannot_be_approved(make_bridge, slack, twilio):
    bridge = await make_bridge(clock=ManualClock(NOW))
    await add_contacts(bridge, [{"phone": PHONE, "consent": None, "tags": ["vip"]}])
    assert "created" in await command(slack, bridge, "campaign create name=Nobody to=tag:vip at=now text=Hi")
    campaign_id = await latest_campaign_id(bridge)
    await wait_state(bridge, slack, campaign_id, "pending_approval")
    assert (await campaign(bridge, campaign_id)).preview["eligible"] == 0
    answer = await command(slack, bridge, f"campaign approve {campaign_id}", user="U0LEAD")
    assert "no eligible recipients" in answer
    await press(slack, bridge, "campaign_approve", campaign_id)
    assert (await campaign(bridge, campaign_id)).state == "pending_approval"
    assert twilio.sent == []


async def test_an_unknown_list_is_refused(make_bridge, slack, twilio):
    bridge = await make_bridge(clock=ManualClock(NOW))
    answer = await command(slack, bridge, "campaign create name=Ghost to=list:NOSUCH at=now text=Hi")
    assert "There is no contact list 'NOSUCH'" in answer and "Nothing was created" in answer
    async with bridge.services.db.session() as session:
        assert await session.scalar(select(func.count(Campaign.id))) == 0


async def test_the_preview_of_a_later_campaign_applies_the_cap_as_of_its_send_time(make_bridge, slack, twilio):
    bridge = await make_bridge(clock=ManualClock(NOW))
    await add_contacts(bridge, [{"phone": PHONE, "consent": "in", "tags": ["vip"]}])
    line_id = bridge.services.lines.by_key(A2P_LINE).id
    async with bridge.services.db.session() as session:
        for i in range(bridge.services.settings.compliance.frequency_cap):  # capped today
            session.add(
                Message(
                    line_id=line_id,
                    direction="out",
                    phone=PHONE,
                    body=f"deal {i}",
                    status="delivered",
                    purpose="marketing",
                    origin="campaign",
                    sent_at=NOW - timedelta(hours=1),
                )
            )
    later = (NOW + timedelta(days=180)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "created" in await command(slack, bridge, f"campaign create name=Later to=tag:vip at={later} text=Hi")
    campaign_id = await latest_campaign_id(bridge)
    c = await wait_state(bridge, slack, campaign_id, "pending_approval")
    assert c.preview["eligible"] == 1 and "frequency_cap" not in c.preview["skipped"]
    assert "created" in await command(slack, bridge, "campaign create name=Today to=tag:vip at=now text=Hi")
    today = await wait_state(bridge, slack, await latest_campaign_id(bridge), "pending_approval")
    assert today.preview["skipped"] == {"frequency_cap": 1}


async def test_a_completed_campaign_posts_its_full_report_and_the_csv_says_delivered(make_bridge, slack, twilio):
    bridge = await make_bridge(clock=ManualClock(NOW))
    await add_contacts(bridge, [{"phone": PHONE, "consent": "in", "tags": ["vip"]}])
    campaign_id = await create_and_approve(slack, bridge, "name=Done to=tag:vip at=now text=Our menu")
    await wait_state(bridge, slack, campaign_id, "completed")
    await slack.wait_for(
        lambda: any(f"Report for campaign #{campaign_id}" in m["text"] for m in slack.messages.get(A2P_CHANNEL, [])),
        what="the full report posted on completion",
    )
    await slack.wait_for(
        lambda: any(f["name"].endswith("recipients.csv") and f.get("channel") for f in slack.files.values()),
        what="the recipients CSV shared in the channel",
    )
    csv_file = next(f for f in slack.files.values() if f["name"].endswith("recipients.csv"))
    [row] = list(csv.DictReader(io.StringIO(csv_file["bytes"].decode())))
    assert row["phone"] == PHONE and row["status"] in ("sent", "delivered")  # what became of it, never "queued"

    async def delivered() -> bool:
        async with bridge.services.db.session() as session:
            return await session.scalar(select(Message.status).where(Message.phone == PHONE)) == "delivered"

    for _ in range(500):
        if await delivered():
            break
        await asyncio.sleep(0.02)
    await command(slack, bridge, f"campaign report {campaign_id}")
    await slack.wait_for(
        lambda: sum(f["name"].endswith("recipients.csv") and bool(f.get("channel")) for f in slack.files.values()) == 2,
        what="the report asked for",
    )
    csv_file = [f for f in slack.files.values() if f["name"].endswith("recipients.csv")][-1]
    [row] = list(csv.DictReader(io.StringIO(csv_file["bytes"].decode())))
    assert (row["phone"], row["status"]) == (PHONE, "delivered")
