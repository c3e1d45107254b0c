"""Issue 23, finding by finding: each hostile request gets a clear 4xx (or the warning a person would get),
never a 5xx, and changes nothing stored; on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from handlers.common import measured, storage_unavailable, unhandled_errors
from storage.models import Conversation, Message, SlackOutbox
from tests.emulators.socket_mode import SocketModeEmulator
from tests.notify.helpers import CONFIG, TOKEN
from tests.security import hostile_requests as hostile
from tests.support.bridge import AGENT, CHANNEL, LINE, free_port
from tests.support.snapshot import stored_state

REQUESTS = {request.label: request for request in hostile.requests()}
# Signed Slack requests a person could make: answered 200 with a warning (an ephemeral answer may be queued).
ANSWERED = {
    "campaign show superscript",
    "campaign show beyond BIGINT",
    "campaign report beyond BIGINT",
    "campaign approve beyond BIGINT",
    "approve button beyond BIGINT",
    "contacts import without a file",
}
# A well-formed, signed click: it does what it says (opts the number out); it just has nowhere to answer.
ACCEPTED = {"opt-out without response_url"}
FINDINGS = {
    "2-media": ["media non-ascii", "media superscript expiry", "media huge expiry", "media NUL", "link non-ascii"],
    "3-digits": ["notification superscript", "notification 5000 digits", "campaign show superscript"],
    "3-digits-command": ["campaign show 5000 digits"],
    "4-range": [
        "notification beyond BIGINT",
        "campaign show beyond BIGINT",
        "campaign report beyond BIGINT",
        "campaign approve beyond BIGINT",
        "approve button beyond BIGINT",
        "status ErrorCode beyond INTEGER",
    ],
    "5-deep-json": ["notify deep JSON", "alertmanager deep JSON", "slack deep JSON", "slack deep payload"],
    "6-text": [
        "notify 5000-digit number",
        "notify lone surrogate",
        "notify NUL",
        "notify NUL target",
        "alertmanager NUL",
        "/sms notify NUL",
        "campaign create NUL name",
        "/sms send NUL",
        "thread reply NUL",
    ],
    "7-lengths": [
        "inbound From too long",
        "inbound MessageSid too long",
        "status too long",
        "status MessageSid too long",
        "inbound NumMedia superscript",
        "inbound NumMedia 5000 digits",
        "thread reply long ts",
        "thread reply long user",
        "event_id too long",
        "command text too long",
        "command user too long",
    ],
    "8-slack-shapes": [
        "slack JSON array",
        "slack JSON string",
        "event as a string",
        "event text an int",
        "event files not a list",
        "button without user",
        "opt-out without response_url",
        "payload a JSON array",
        "view without type",
        "view a string",
        "campaign modal state not an object",
        "contacts import without a file",
    ],
}


def secrets_of(slack, twilio) -> hostile.Secrets:
    return hostile.Secrets(slack.signing_secret, twilio.auth_token, TOKEN)


async def assert_refused(bridge, slack, twilio, labels: list[str]) -> None:
    async with aiohttp.ClientSession() as http:
        for label in labels:
            request = REQUESTS[label]
            before = await stored_state(bridge.services.db)
            status, text = await hostile.fire(http, bridge.url, request, secrets_of(slack, twilio))
            assert status < 500, (label, status, text)
            assert "Traceback" not in text, label
            if label in ACCEPTED:
                continue
            if label in ANSWERED:
                assert status == 200, (label, status, text)
                await asyncio.sleep(0.2)  # a lazy listener (the contacts import) runs after the answer
                after = await stored_state(bridge.services.db, ignore=("slack_outbox",))
                assert after == {k: v for k, v in before.items() if k != "slack_outbox"}, label
                continue
            assert 400 <= status < 500, (label, status, text)
            assert await stored_state(bridge.services.db) == before, label


@pytest.fixture
async def api_bridge(make_bridge):
    return await make_bridge(config=CONFIG)


@pytest.fixture
async def still_bridge(make_bridge):
    """No workers: what is stored changes only by the requests the test makes."""
    return await make_bridge(config=CONFIG, run_workers=False)


@pytest.mark.parametrize("finding", sorted(FINDINGS))
async def test_hostile_requests_are_refused_and_change_nothing(still_bridge, slack, twilio, finding):
    await assert_refused(still_bridge, slack, twilio, FINDINGS[finding])


async def test_unsigned_slack_timestamp_that_is_not_ascii_is_refused(bridge):
    async with aiohttp.ClientSession() as http:
        for timestamp, signature in (("²", "v0=abc"), ("1" * 5000, "v0=abc"), ("1700000000", "v0=ü")):
            headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
            async with http.post(bridge.events_url, data=b"{}", headers=headers) as resp:
                assert resp.status == 401, (timestamp, resp.status)


# -- 1. Socket Mode ------------------------------------------------------------------------------------


async def test_socket_mode_without_signing_secret_refuses_every_http_request(make_bridge, slack, twilio):
    front = await SocketModeEmulator(slack, app_token="xapp-1-A0TEST-1-secret").start()
    try:
        bridge = await make_bridge(
            env={"SLACK_APP_TOKEN": "xapp-1-A0TEST-1-secret", "SLACK_SIGNING_SECRET": "", "SLACK_API_URL": front.url}
        )
        assert front.connections == 1
        await twilio.send_inbound(bridge.url, from_="+14155550124", to=LINE, body="hello")
        await slack.wait_for(lambda: slack.roots(CHANNEL), what="the thread")
        thread_ts = slack.roots(CHANNEL)[0]["ts"]
        await _until_idle(bridge)
        forged = hostile.Hostile(
            "forged thread reply",
            "POST",
            "/slack/events",
            hostile._json({"type": "event_callback", "event": hostile.thread_reply(thread_ts=thread_ts)}),
            hostile.JSON,
        )
        async with aiohttp.ClientSession() as http:
            for request in [forged, *hostile.socket_mode_requests()]:
                before = await stored_state(bridge.services.db, ignore=("slack_outbox",))
                status, text = await hostile.fire(http, bridge.url, request, hostile.Secrets())
                assert status in (403, 404), (request.label, status, text)
                assert await stored_state(bridge.services.db, ignore=("slack_outbox",)) == before
        await asyncio.sleep(0.5)
        async with bridge.services.db.session() as session:
            assert (await session.scalars(select(Message.direction))).all() == ["in"]
        assert twilio.sent == []
    finally:
        await front.stop()


async def _until_idle(bridge) -> None:
    """Until the outbox has posted everything (the thread's ts is stored with its conversation)."""
    for _ in range(100):
        async with bridge.services.db.session() as session:
            pending = await session.scalar(select(func.count()).where(SlackOutbox.status == "pending"))
            if not pending and await session.scalar(select(Conversation.thread_ts)):
                return
        await asyncio.sleep(0.1)


# -- 9. senders that are not phone numbers ---------------------------------------------------------------


async def test_keywords_from_senders_that_are_not_phone_numbers_are_shown_but_never_answered(api_bridge, slack, twilio):
    bridge = api_bridge
    batch = [r for r in hostile.requests() if r.label.split(" from ")[0] in ("STOP", "HELP", "START")]
    async with aiohttp.ClientSession() as http:
        for request in batch:
            status, text = await hostile.fire(http, bridge.url, request, secrets_of(slack, twilio))
            assert status == 200, (request.label, status, text)

    def notes() -> int:  # one per keyword text, in its sender's thread (posts may be folded together)
        shown = [m for root in slack.roots(CHANNEL) for m in slack.thread(CHANNEL, root["ts"])]
        return sum(str(m.get("blocks")).count("nothing is sent back to it") for m in shown)

    await slack.wait_for(lambda: notes() == len(batch), what="every keyword text shown with its note")
    assert len(slack.roots(CHANNEL)) == len(hostile.NOT_PHONE_NUMBERS)  # a thread per sender
    await asyncio.sleep(1.0)  # the sender had time to send anything queued
    assert twilio.sent == []
    async with bridge.services.db.session() as session:
        assert (await session.scalars(select(Message.direction).where(Message.direction == "out"))).all() == []


async def test_the_sender_refuses_to_text_a_destination_that_is_not_a_phone_number(api_bridge, slack, twilio):
    bridge = api_bridge
    status, _, _ = await twilio.send_inbound(bridge.url, from_="ACME", to=LINE, body="Your code is 1234")
    assert status == 200
    await slack.wait_for(lambda: slack.roots(CHANNEL), what="the conversation's thread")
    thread = slack.roots(CHANNEL)[0]["ts"]
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="thanks!", thread_ts=thread)

    async def outbound():
        async with bridge.services.db.session() as session:
            return (await session.scalars(select(Message).where(Message.direction == "out"))).all()

    for _ in range(100):
        messages = await outbound()
        if messages and messages[0].status == "blocked":
            break
        await asyncio.sleep(0.1)
    assert [(m.phone, m.status) for m in messages] == [("ACME", "blocked")]
    assert "not a phone number" in messages[0].error_message
    assert twilio.sent == []


# -- the middleware --------------------------------------------------------------------------------------


async def test_an_unexpected_exception_is_a_plain_500_logged_with_its_route(caplog):
    async def broken(request: web.Request) -> web.Response:
        return web.Response(text=str(1 / int(request.match_info["n"])))

    app = web.Application(middlewares=[unhandled_errors, storage_unavailable])
    app.router.add_get("/divide/{n}", broken)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        with caplog.at_level(logging.ERROR, logger="handlers.common"):
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/divide/0") as resp:
                    status, text = resp.status, await resp.text()
                async with http.get(f"http://127.0.0.1:{port}/divide/2") as resp:
                    assert resp.status == 200
    finally:
        await runner.cleanup()
    assert status == 500 and "Traceback" not in text and "ZeroDivisionError" not in text
    [record] = [r for r in caplog.records if r.name == "handlers.common"]
    assert record.getMessage() == "GET /divide/{n}: ZeroDivisionError"
    assert record.exc_info is not None  # the traceback is in the log


def test_the_app_catches_what_its_handlers_do_not(bridge):
    # Outside it only `measured`, which counts each answer and lets every exception through.
    assert list(bridge.app.middlewares[:2]) == [measured, unhandled_errors]
