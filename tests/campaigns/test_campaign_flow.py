"""End to end through real HTTP: `/sms campaign create`, preview, approval, dispatch, progress, report, links."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import aiohttp
from PIL import Image
from sqlalchemy import select

from bot.campaigns.chart import LEFT, ROW, TOP
from bot.clock import ManualClock
from storage.models import Message
from storage.models.campaigns import CampaignEvent, CampaignLink
from tests.campaigns.helpers import add_contacts, campaign, command, create_and_approve, wait_state
from tests.support.bridge import A2P_CHANNEL, A2P_LINE

# 14:00 UTC on a June Monday: 10:00 in New York (allowed), 07:00 in San Francisco (quiet until 08:00 = 15:00 UTC).
NOW = datetime(2030, 6, 3, 14, 0, tzinfo=UTC)
NY_OK = ["+12125550101", "+12125550102"]
SF_QUIET = "+14155550111"
MIXED = [
    {"phone": NY_OK[0], "first_name": "Ann", "consent": "in", "tags": ["vip"]},
    {"phone": NY_OK[1], "first_name": "", "consent": "in", "tags": ["vip"]},
    {"phone": SF_QUIET, "first_name": "Sam", "consent": "in", "tags": ["vip"]},
    {"phone": "+12125550103", "consent": "out", "tags": ["vip"]},
    {"phone": "+12125550104", "consent": None, "tags": ["vip"]},
    {"phone": "12345", "consent": None, "tags": ["vip"]},
    {"phone": "+12125550105", "consent": "in", "number_status": "landline", "tags": ["vip"]},
    {"phone": "(212) 555-0101", "first_name": "Ann again", "consent": "in", "tags": ["vip"]},
    {"phone": "+12125550199", "consent": "in", "tags": ["other"]},  # not in the audience
]


async def test_mixed_audience_sends_exactly_to_the_eligible_and_defers_quiet_hours(make_bridge, slack, twilio):
    clock = ManualClock(NOW)
    bridge = await make_bridge(clock=clock)
    await add_contacts(bridge, MIXED)
    campaign_id = await create_and_approve(
        slack,
        bridge,
        'name="Spring sale" to=tag:vip at=now text=Hi {first_name|there}, 20% off: https://acme.example/sale?x=1',
    )

    c = await campaign(bridge, campaign_id)
    preview = c.preview
    assert preview["eligible"] == 3 and preview["audience"] == 8
    assert preview["skipped"] == {"opted_out": 1, "no_consent": 1, "invalid": 1, "landline": 1, "duplicate": 1}
    assert preview["sample"]["encoding"] == "GSM-7" and preview["total_segments"] >= 3
    assert preview["first_send"].startswith("2030-06-03T14:00") and preview["last_send"].startswith("2030-06-03T15:00")
    await slack.wait_for(lambda: slack.roots(A2P_CHANNEL))
    preview_post = slack.roots(A2P_CHANNEL)[0]
    assert "3 eligible" in preview_post["text"] and "opted out 1" in preview_post["text"]

    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert sorted(s["to"] for s in twilio.sent) == NY_OK
    bodies = {s["to"]: s["body"] for s in twilio.sent}
    assert bodies[NY_OK[0]].startswith("Hi Ann, 20% off: " + bridge.url + "/l/")
    assert bodies[NY_OK[1]].startswith("Hi there,")
    assert all(b.endswith("\nReply STOP to opt out") and "acme.example" not in b for b in bodies.values())
    assert all(s["from"] == A2P_LINE for s in twilio.sent)
    async with bridge.services.db.session() as session:
        quiet = await session.scalar(select(Message).where(Message.phone == SF_QUIET))
        assert quiet.status == "queued" and quiet.next_attempt_at == datetime(2030, 6, 3, 15, 0, tzinfo=UTC)
        assert quiet.origin == "campaign" and quiet.origin_ref == str(campaign_id)
        assert quiet.dedupe_key == f"campaign:{campaign_id}:{SF_QUIET}"

    clock.set(datetime(2030, 6, 3, 15, 0, 1, tzinfo=UTC))  # San Francisco wakes up
    await twilio.wait_for(lambda: len(twilio.sent) == 3)
    assert twilio.sent[-1]["to"] == SF_QUIET
    await wait_state(bridge, slack, campaign_id, "completed")

    # The one progress message is updated in place, ending with the summary.
    await slack.wait_for(
        lambda: any("completed" in m["text"] and "sent 3" in m["text"] for m in slack.roots(A2P_CHANNEL))
    )
    assert any(call for call in slack.method_calls("chat.update"))

    # A click on a tracked link redirects and counts.
    code = bodies[NY_OK[0]].split("/l/")[1].split()[0]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{bridge.url}/l/{code}", allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "https://acme.example/sale?x=1"
        async with http.get(f"{bridge.url}/l/nosuchcode", allow_redirects=False) as resp:
            assert resp.status == 404
    async with bridge.services.db.session() as session:
        link = await session.get(CampaignLink, code)
        assert link.clicks == 1 and link.phone == NY_OK[0]
        actions = [
            e.action
            for e in (
                await session.scalars(
                    select(CampaignEvent).where(CampaignEvent.campaign_id == campaign_id).order_by(CampaignEvent.id)
                )
            ).all()
        ]
    assert actions[:4] == ["created", "previewed", "approved", "started"] and actions[-1] == "completed"

    answer = await command(slack, bridge, f"campaign report {campaign_id}")
    assert "sent 3" in answer and "clicked 1" in answer and "opted out 1" in answer, answer
    # Two of each: the report posted when the campaign completed, and the one asked for now.
    await slack.wait_for(
        lambda: all(
            sum(f["name"] == f"campaign-{campaign_id}-{kind}" and bool(f.get("channel")) for f in slack.files.values())
            == 2
            for kind in ("recipients.csv", "funnel.png")
        )
    )
    # The report asked for now (the campaign's completion posted one before it, from before the click).
    csv_file = [f for f in slack.files.values() if f["name"].endswith("recipients.csv")][-1]
    chart = [f for f in slack.files.values() if f["name"] == f"campaign-{campaign_id}-funnel.png"][-1]
    with Image.open(io.BytesIO(chart["bytes"])) as image:
        assert image.format == "PNG" and image.width >= 600
        # Bars are drawn to scale: the sent bar (3) is longer than the clicked bar (1), and blue.
        sent_row, clicked_row = [bar_length(image, index) for index in (2, 4)]
        assert sent_row > clicked_row > 0
    assert chart["channel"] == csv_file["channel"] == A2P_CHANNEL
    assert chart["thread_ts"] and chart["thread_ts"] == csv_file["thread_ts"]
    csv_text = csv_file["bytes"].decode()
    assert csv_text.count("\n") == 1 + 7  # header + every distinct recipient (the duplicate has no row)
    assert "no_consent" in csv_text and "landline" in csv_text


def bar_length(image, index: int) -> int:
    """Pixels of colour in the bar of row `index`, read along the row's middle."""
    y = TOP + index * ROW + ROW // 2
    return sum(1 for x in range(LEFT, image.width) if image.getpixel((x, y)) == (46, 134, 222))
