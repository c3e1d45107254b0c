"""`POST /api/v1/notify` and `GET /api/v1/notifications/{id}` over real HTTP: auth, validation, idempotency."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models.notify import Notification
from tests.notify.helpers import (
    ALICE,
    ALICE_PHONE,
    BOB_PHONE,
    CONFIG,
    TOKEN,
    add_people,
    api,
    auth,
    page_message,
    texts_to,
)
from tests.support.bridge import CHANNEL


async def _count(bridge) -> int:
    async with bridge.services.db.session() as session:
        return await session.scalar(select(func.count(Notification.id)))


async def test_auth_failures_change_nothing(make_bridge, slack, twilio):
    bridge = await make_bridge(config=CONFIG)
    good = {"to": "group:oncall", "text": "hi"}
    for headers, detail in (
        (None, "missing"),
        (auth("wrong-token-0123456789"), "invalid token"),
        ({"Authorization": f"Basic {TOKEN}"}, "Bearer scheme"),
        ({"Authorization": "Bearer"}, "Bearer scheme"),
    ):
        for method, path in (
            ("POST", "/api/v1/notify"),
            ("POST", "/api/v1/alertmanager"),
            ("GET", "/api/v1/notifications/1"),
        ):
            status, body, resp_headers = await api(bridge, method, path, json=good, headers=headers)
            assert status == 401, (headers, path)
            assert resp_headers["WWW-Authenticate"].startswith('Bearer realm="sms-bridge"')
            assert detail in body["error"]
    assert await _count(bridge) == 0 and twilio.sent == []


async def test_bad_requests_name_the_problem(make_bridge, slack, twilio):
    bridge = await make_bridge(config=CONFIG)
    status, body, _ = await api(
        bridge,
        "POST",
        "/api/v1/notify",
        data="to=group:oncall",
        headers={**auth(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 415 and "application/json" in body["error"]
    status, body, _ = await api(
        bridge, "POST", "/api/v1/notify", data="{not json", headers={**auth(), "Content-Type": "application/json"}
    )
    assert status == 400 and "not valid JSON" in body["error"]
    cases = [
        ([1, 2], "JSON object"),
        ({"to": "group:oncall", "text": "x", "priority": "high"}, "unknown field(s): priority"),
        ({"text": "x"}, "missing field 'to'"),
        ({"to": "group:oncall", "text": 5}, "field 'text' must be a string"),
        ({"to": "group:nosuch", "text": "x"}, "unknown group 'nosuch'"),
        ({"to": "+1555", "text": "x"}, "'+1555' is not a valid phone number"),
        ({"to": "nobody", "text": "x"}, "to: 'nobody' is not a group"),
        ({"to": "group:oncall", "text": "   "}, "text: text is empty"),
        ({"to": "group:oncall", "text": "x" * 1601}, "text: text is too long"),
    ]
    for payload, expected in cases:
        status, body, _ = await api(bridge, "POST", "/api/v1/notify", json=payload, headers=auth())
        assert status == 400, payload
        assert expected in body["error"], (payload, body)
    status, body, _ = await api(bridge, "GET", "/api/v1/notifications/999", headers=auth())
    assert status == 404
    assert await _count(bridge) == 0 and twilio.sent == []


async def test_notify_state_and_idempotency(make_bridge, slack, twilio):
    add_people(slack)
    bridge = await make_bridge(config=CONFIG)
    key = {**auth(), "Idempotency-Key": "deploy-42"}
    payload = {"to": "group:oncall", "text": "Deploy 42 failed"}
    status, first, headers = await api(bridge, "POST", "/api/v1/notify", json=payload, headers=key)
    assert status == 202 and first["recipients"] == 2
    assert headers["Location"] == f"/api/v1/notifications/{first['id']}"
    await twilio.wait_for(lambda: len(twilio.sent) == 2)

    status, again, headers = await api(bridge, "POST", "/api/v1/notify", json=payload, headers=key)
    assert status == 202 and again == first and headers.get("Idempotent-Replayed") == "true"
    status, body, _ = await api(bridge, "POST", "/api/v1/notify", json={**payload, "text": "other"}, headers=key)
    assert status == 422 and "Idempotency-Key" in body["error"]

    async def delivered() -> dict:
        return (await api(bridge, "GET", f"/api/v1/notifications/{first['id']}", headers=auth()))[1]

    for _ in range(100):
        state = await delivered()
        if all(r["state"] == "delivered" for r in state["recipients"]):
            break
        await slack.wait_for(lambda: True, timeout=0.1)
    assert [(r["user"], r["phone"], r["state"]) for r in state["recipients"]] == [
        (ALICE, ALICE_PHONE, "delivered"),
        ("U0BOB", BOB_PHONE, "delivered"),
    ]
    assert state["status"] == "open" and state["escalates_at"]

    status, direct, _ = await api(
        bridge, "POST", "/api/v1/notify", json={"to": "+1 (415) 555-0199", "text": "ping"}, headers=auth()
    )
    assert status == 202 and direct["recipients"] == 1
    await twilio.wait_for(lambda: len(twilio.sent) == 3)
    assert texts_to(twilio, "+14155550199") == [f"Page {direct['id']}: ping\nReply ACK {direct['id']}"]
    assert len(texts_to(twilio, ALICE_PHONE)) == 1  # the replay texted nobody
    # API pages are shown in the first line's channel.
    await slack.wait_for(lambda: page_message(slack, CHANNEL, first["id"]) is not None)
    assert "via the API" in page_message(slack, CHANNEL, first["id"])["text"]
