"""Hostile and malformed input to the webhooks: a clear 4xx, never a 5xx or a traceback, nothing stored."""

from __future__ import annotations

from urllib.parse import urlencode

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from storage.models import Conversation, Message, ProcessedEvent, SlackOutbox
from tests.support.bridge import CHANNEL, LINE

ENDPOINTS = ["/sms/twilio/inbound", "/sms/twilio/status", "/slack/events"]


async def stored_rows(bridge) -> int:
    async with bridge.services.db.session() as session:
        total = 0
        for model in (Message, Conversation, SlackOutbox, ProcessedEvent):
            total += await session.scalar(select(func.count()).select_from(model))
        return total


async def post(url: str, body: bytes, content_type: str, headers: dict | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=body, headers={"Content-Type": content_type, **(headers or {})}) as resp:
            return resp.status, await resp.text()


def assert_clean_refusal(status: int, text: str) -> None:
    assert 400 <= status < 500, (status, text)
    assert "Traceback" not in text and 'File "' not in text


async def test_garbage_bodies_are_refused_without_5xx(bridge):
    samples = [
        (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
        (b"From=%ZZ&To=%", "application/x-www-form-urlencoded"),
        (b'{"From": "+1"}', "application/json"),
        (b"", "application/x-www-form-urlencoded"),
        (b"<xml/>", "text/xml"),
    ]
    for path in ENDPOINTS:
        for body, content_type in samples:
            status, text = await post(bridge.url + path, body, content_type)
            assert_clean_refusal(status, text)
    assert await stored_rows(bridge) == 0


async def test_huge_bodies_are_refused(bridge):
    body = b"Body=" + b"x" * (2 * 1024 * 1024)
    for path in ENDPOINTS:
        status, text = await post(bridge.url + path, body, "application/x-www-form-urlencoded")
        assert status in (401, 403, 413), (path, status)
    assert await stored_rows(bridge) == 0


async def test_signed_webhook_missing_fields_names_the_field(bridge, twilio):
    params = {"MessageSid": "SM" + "a" * 32, "Body": "no sender"}
    url = bridge.url + "/sms/twilio/inbound"
    status, text = await post(
        url,
        urlencode(params).encode(),
        "application/x-www-form-urlencoded",
        {"X-Twilio-Signature": twilio.sign(url, params)},
    )
    assert status == 400 and "From" in text
    status_url = bridge.url + "/sms/twilio/status"
    status, text = await post(
        status_url,
        b"MessageSid=SMx",
        "application/x-www-form-urlencoded",
        {"X-Twilio-Signature": twilio.sign(status_url, {"MessageSid": "SMx"})},
    )
    assert status == 400 and "MessageStatus" in text
    assert await stored_rows(bridge) == 0


async def test_hostile_text_is_stored_verbatim_and_shown_escaped(bridge, slack, twilio):
    nasty = "<!channel> <@U0ADMIN> &amp; *bold* =cmd|' /C calc'!A0 \u202e\u0000 😀"
    status, _, _ = await twilio.send_inbound(bridge.url, from_="+14155550127", to=LINE, body=nasty)
    assert status == 200
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    root = slack.roots(CHANNEL)[0]  # the card, which carries the first text
    for shown in [root["text"]] + [block["text"]["text"] for block in root["blocks"] if block["type"] == "section"]:
        assert "<!channel>" not in shown and "<@U0ADMIN>" not in shown
    assert "&lt;!channel&gt;" in root["text"]
    assert any("&lt;!channel&gt;" in block.get("text", {}).get("text", "") for block in root["blocks"])
    async with bridge.services.db.session() as session:
        assert await session.scalar(select(Message.body).where(Message.direction == "in")) == nasty.replace("\0", "")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=2048),
    path=st.sampled_from(ENDPOINTS),
    content_type=st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain", ""]),
)
async def test_generated_bodies_never_cause_a_server_error(bridge, body, path, content_type):
    status, text = await post(bridge.url + path, body, content_type)
    assert_clean_refusal(status, text)
    assert await stored_rows(bridge) == 0
