"""Telnyx end to end over loopback: sends, signed webhooks in (texts, MMS, receipts), refusals, carrier errors."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from sqlalchemy import func, select

from storage.models import ConsentEvent, Contact, Message, StatusEvent
from storage.states import MessageStatus
from tests.support.bridge import AGENT, CHANNEL, LINE, card_first_text

CUSTOMER = "+14155550177"
PNG = b"\x89PNG\r\n\x1a\n" + b"telnyx-picture" * 40


async def _counts(bridge) -> tuple[int, int]:
    async with bridge.services.db.session() as session:
        messages = await session.scalar(select(func.count(Message.id)))
        receipts = await session.scalar(select(func.count(StatusEvent.id)))
    return messages, receipts


async def _recorded_outbound(bridge) -> Message:
    """The outbound text once its carrier id is recorded (the carrier has it a moment before the bridge knows)."""
    for _ in range(200):
        async with bridge.services.db.session() as session:
            message = await session.scalar(select(Message).where(Message.direction == "out"))
        if message is not None and message.carrier_sid is not None:
            return message
        await asyncio.sleep(0.05)  # yields to the bridge's sender
    raise AssertionError("the outbound text's carrier id was never recorded")


async def _open_thread(bridge, slack, telnyx, body: str = "Hello from Telnyx") -> dict:
    status, _, _ = await telnyx.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body=body)
    assert status == 200
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    return slack.roots(CHANNEL)[0]


async def test_reply_goes_out_through_telnyx_and_receipts_come_back(telnyx_bridge, slack, telnyx):
    root = await _open_thread(telnyx_bridge, slack, telnyx)
    assert card_first_text(slack, CHANNEL, root["ts"]) == "Hello from Telnyx"
    await slack.user_message(telnyx_bridge.events_url, channel=CHANNEL, user=AGENT, text="On it!", thread_ts=root["ts"])
    await telnyx.wait_for(lambda: len(telnyx.sent) == 1)
    sent = telnyx.sent[0]
    assert (sent["to"], sent["from"], sent["body"]) == (CUSTOMER, LINE, "On it!")
    message = await _recorded_outbound(telnyx_bridge)
    assert sent["status_callback"] == f"{telnyx_bridge.url}/sms/telnyx/webhook?m={message.id}"
    assert message.carrier_sid == sent["id"]
    agent_post = slack.thread(CHANNEL, root["ts"])[-1]
    await slack.wait_for(lambda: "white_check_mark" in slack.message(CHANNEL, agent_post["ts"])["reactions"])
    async with telnyx_bridge.services.db.session() as session:
        assert (await session.get(Message, message.id)).status == MessageStatus.DELIVERED
    assert [w["status"] for w in telnyx.webhooks if w["event_type"] != "message.received"] == [200, 200]


async def test_inbound_mms_media_is_fetched_from_telnyx_and_uploaded(telnyx_bridge, slack, telnyx):
    url = telnyx.add_media(PNG, "image/png")
    status, _, _ = await telnyx.send_inbound(
        telnyx_bridge.url, from_=CUSTOMER, to=LINE, body="a photo", media=[(url, "image/png")]
    )
    assert status == 200
    await slack.wait_for(lambda: any(f["bytes"] == PNG and f.get("channel") for f in slack.files.values()), timeout=10)
    assert next(f for f in slack.files.values() if f["bytes"] == PNG)["channel"] == CHANNEL


async def test_a_redelivered_event_has_effect_once(telnyx_bridge, slack, telnyx):
    payload = telnyx.inbound_payload(from_=CUSTOMER, to=LINE, body="only once", message_id="m-1")
    url = telnyx_bridge.url + "/sms/telnyx/webhook"
    first = await telnyx.post_event(url, telnyx.event("message.received", payload, "event-1"))
    again = await telnyx.post_event(url, telnyx.event("message.received", payload, "event-1"))
    assert first[0] == again[0] == 200
    await slack.wait_for(lambda: len(slack.messages.get(CHANNEL, [])) >= 1)
    async with telnyx_bridge.services.db.session() as session:
        assert await session.scalar(select(func.count(Message.id)).where(Message.carrier_sid == "m-1")) == 1
    assert sum("only once" in m["text"] for m in slack.messages[CHANNEL]) == 1


@pytest.mark.parametrize(
    "headers,status",
    [
        ({}, 401),
        ({"telnyx-timestamp": "NOW"}, 401),  # no signature
        ({"telnyx-timestamp": "NOW", "telnyx-signature-ed25519": "FORGED"}, 403),
        ({"telnyx-timestamp": "STALE", "telnyx-signature-ed25519": "SIGNED-STALE"}, 403),
        ({"telnyx-timestamp": "NOW", "telnyx-signature-ed25519": "OTHER-BODY"}, 403),
    ],
)
async def test_unsigned_forged_or_stale_webhooks_are_refused_and_change_nothing(telnyx_bridge, telnyx, headers, status):
    document = telnyx.event("message.received", telnyx.inbound_payload(from_=CUSTOMER, to=LINE, body="forged?"))
    body = json.dumps(document).encode()
    now, stale = str(int(time.time())), str(int(time.time()) - 301)
    values = {
        "NOW": now,
        "STALE": stale,
        "FORGED": "A" * 86 + "==",
        "SIGNED-STALE": telnyx.sign(body, stale),
        "OTHER-BODY": telnyx.sign(body + b" ", now),
    }
    sent = {key: values.get(value, value) for key, value in headers.items()}
    before = await _counts(telnyx_bridge)
    answer, _ = await telnyx.post_event(telnyx_bridge.url + "/sms/telnyx/webhook", body, headers=sent)
    assert answer == status
    assert await _counts(telnyx_bridge) == before


@pytest.mark.parametrize(
    "mutate,named",
    [
        (lambda d: d["data"]["payload"].pop("from"), "data.payload.from"),
        (lambda d: d["data"].pop("payload"), "data.payload"),
        (lambda d: d["data"]["payload"].update(to="+14155550100"), "data.payload.to"),
        (lambda d: d["data"]["payload"].update(media=[{"content_type": "image/png"}]), "data.payload.media[0].url"),
        (lambda d: d.pop("data"), "data"),
    ],
)
async def test_a_malformed_event_is_refused_naming_what_is_wrong(telnyx_bridge, telnyx, mutate, named):
    document = telnyx.event("message.received", telnyx.inbound_payload(from_=CUSTOMER, to=LINE, body="hi"))
    mutate(document)
    before = await _counts(telnyx_bridge)
    status, text = await telnyx.post_event(telnyx_bridge.url + "/sms/telnyx/webhook", document)
    assert status == 400 and named in text, text
    assert await _counts(telnyx_bridge) == before


async def test_an_event_for_a_number_no_line_uses_is_answered_200_and_logged(telnyx_bridge, telnyx, caplog):
    caplog.set_level(logging.WARNING)
    before = await _counts(telnyx_bridge)
    status, _, _ = await telnyx.send_inbound(telnyx_bridge.url, from_=CUSTOMER, to="+14155559999", body="who?")
    assert status == 200
    assert await _counts(telnyx_bridge) == before
    assert any("no line uses" in r.getMessage() for r in caplog.records)


async def test_40300_records_an_opt_out_from_the_carrier(telnyx_bridge, slack, telnyx):
    telnyx.set_number_error(CUSTOMER, 40300, "Blocked due to STOP message")
    _, body = await slack.send_command(
        telnyx_bridge.events_url, text=f"send {CUSTOMER} hello", user_id=AGENT, channel_id=CHANNEL
    )
    assert "Texting" in json.loads(body)["text"]
    await slack.wait_for(
        lambda: any(m["text"].startswith(":x: Not delivered") for m in slack.messages.get(CHANNEL, []))
    )
    async with telnyx_bridge.services.db.session() as session:
        [event] = (await session.scalars(select(ConsentEvent))).all()
    assert (event.phone, event.action, event.source) == (CUSTOMER, "opt_out", "carrier")
    assert "40300" in event.evidence
    assert telnyx.sent == []


@pytest.mark.parametrize("code,at,status", [(10002, "api", "invalid"), (40001, "delivery", "landline")])
async def test_invalid_and_landline_errors_mark_the_number(telnyx_bridge, slack, telnyx, code, at, status):
    telnyx.set_number_error(CUSTOMER, code, "refused", at=at)
    await slack.send_command(telnyx_bridge.events_url, text=f"send {CUSTOMER} hello", user_id=AGENT, channel_id=CHANNEL)
    await slack.wait_for(
        lambda: any(m["text"].startswith(":x: Not delivered") for m in slack.messages.get(CHANNEL, []))
    )
    not_delivered = next(m for m in slack.messages[CHANNEL] if m["text"].startswith(":x: Not delivered"))
    assert f"Telnyx error {code}" in not_delivered["text"]
    async with telnyx_bridge.services.db.session() as session:
        contact = await session.scalar(select(Contact).where(Contact.phone == CUSTOMER))
    assert contact.number_status == status and str(code) in contact.number_status_reason


async def test_rate_limited_send_is_retried_after_retry_after_and_sent_once(telnyx_bridge, slack, telnyx):
    # Refused until the first attempt has been refused, however long the bridge takes to make it (a window of a
    # fixed length could end before a slow machine's first attempt).
    telnyx.fail("429", 60, retry_after=1)
    await slack.send_command(telnyx_bridge.events_url, text=f"send {CUSTOMER} later", user_id=AGENT, channel_id=CHANNEL)
    await telnyx.wait_for(lambda: telnyx.faults_injected["429"] >= 1, timeout=15)
    telnyx.clear_faults()
    await telnyx.wait_for(lambda: len(telnyx.sent) == 1, timeout=15)
    assert telnyx.faults_injected["429"] >= 1
    message = await _recorded_outbound(telnyx_bridge)
    assert message.carrier_sid == telnyx.sent[0]["id"]


async def test_a_redelivered_receipt_changes_nothing_more(telnyx_bridge, slack, telnyx):
    from storage.models import SlackOutbox

    await slack.send_command(telnyx_bridge.events_url, text=f"send {CUSTOMER} hi", user_id=AGENT, channel_id=CHANNEL)
    await telnyx.wait_for(lambda: len([w for w in telnyx.webhooks if w["event_type"] == "message.finalized"]) == 1)
    message = await _recorded_outbound(telnyx_bridge)
    record = telnyx.sent[0]
    payload = telnyx._message(record, "delivered", time.time())
    for _ in range(50):
        async with telnyx_bridge.services.db.session() as session:
            if (await session.get(Message, message.id)).status == MessageStatus.DELIVERED:
                break
        await asyncio.sleep(0.05)
    async with telnyx_bridge.services.db.session() as session:
        before = await session.scalar(select(func.count(SlackOutbox.id)))
    again = await telnyx.post_event(record["status_callback"], telnyx.event("message.finalized", payload, "ev-final"))
    assert again[0] == 200
    async with telnyx_bridge.services.db.session() as session:
        assert await session.scalar(select(func.count(SlackOutbox.id))) == before
        assert (await session.get(Message, message.id)).status == MessageStatus.DELIVERED
