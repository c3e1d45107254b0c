"""`POST /api/v1/messages`, `GET` and `DELETE /api/v1/messages/{id}` over real HTTP, against the emulators."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.compliance import consent
from storage.models import Conversation, Message, SlackOutbox
from storage.models.api import ApiIdempotency, ApiMessage
from storage.states import MessageStatus
from tests.api.helpers import CUSTOMER, call, config, make_key
from tests.notify.helpers import manual_clock
from tests.support.bridge import A2P_CHANNEL, A2P_LINE, CHANNEL, LINE, messages_inserted


async def counts(bridge, *, outbox: bool = False) -> dict[str, int]:
    """Rows a request could add. The Slack outbox also grows with the receipts of texts sent earlier, so it is
    counted only when nothing was sent before."""
    models = (Message, ApiMessage, ApiIdempotency, Conversation) + ((SlackOutbox,) if outbox else ())
    async with bridge.services.db.session() as session:
        return {model.__tablename__: await session.scalar(select(func.count()).select_from(model)) for model in models}


async def wait_status(bridge, token: str, message_id: str, wanted: str) -> dict:
    state: dict = {}
    for _ in range(250):
        _status, state, _ = await call(bridge, "GET", f"/api/v1/messages/{message_id}", token=token)
        if state["status"] == wanted:
            return state
        await bridge_sleep()
    raise AssertionError(f"{message_id} never became {wanted}: {state}")


async def bridge_sleep() -> None:
    import asyncio

    await asyncio.sleep(0.04)


def thread_posts(slack, channel: str) -> list[str]:
    return [m["text"] for m in slack.messages.get(channel, []) if m["thread_ts"] is not None]


async def test_a_text_is_sent_and_shown_in_the_customers_thread(make_bridge, slack, twilio):
    bridge = await make_bridge(config=config())
    key = await make_key(bridge)
    status, answer, headers = await call(
        bridge,
        "POST",
        "/api/v1/messages",
        token=key.token,
        json_body={"to": "(415) 555-1234", "text": "Your order 42 has shipped", "metadata": {"order": 42}},
    )
    assert status == 202
    assert answer["status"] == "queued" and answer["segments"] == 1 and answer["encoding"] == "GSM-7"
    assert headers["Location"] == f"/api/v1/messages/{answer['id']}"
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert (twilio.sent[0]["to"], twilio.sent[0]["from"], twilio.sent[0]["body"]) == (
        CUSTOMER,
        LINE,
        "Your order 42 has shipped",
    )
    state = await wait_status(bridge, key.token, answer["id"], "delivered")
    assert state["to"] == CUSTOMER and state["line"] == LINE and state["error"] is None
    assert state["metadata"] == {"order": 42} and state["sent_at"] and state["delivered_at"]
    # The customer's thread is opened (the card) and shows the text, labelled with the key's name.
    await slack.wait_for(lambda: any("*shop* via the API" in text for text in thread_posts(slack, CHANNEL)))
    assert any("Your order 42 has shipped" in text for text in thread_posts(slack, CHANNEL))
    assert len(slack.roots(CHANNEL)) == 1

    # A second text goes to the same thread.
    status, second, _ = await call(
        bridge, "POST", "/api/v1/messages", token=key.token, json_body={"to": CUSTOMER, "text": "Out for delivery"}
    )
    assert status == 202
    await slack.wait_for(lambda: any("Out for delivery" in text for text in thread_posts(slack, CHANNEL)))
    assert len(slack.roots(CHANNEL)) == 1

    # Another key does not see the first key's messages.
    other = await make_key(bridge, "clinic", ("messages",))
    status, body, _ = await call(bridge, "GET", f"/api/v1/messages/{answer['id']}", token=other.token)
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body, _ = await call(bridge, "GET", "/api/v1/messages/msg_000000000000000000000000", token=key.token)
    assert status == 404


async def test_templates_fill_variables_and_fallbacks(make_bridge, twilio):
    bridge = await make_bridge(config=config())
    key = await make_key(bridge)
    body = {"to": CUSTOMER, "template": "order_shipped", "variables": {"order_id": 1042, "url": "https://x.test/t"}}
    status, answer, _ = await call(bridge, "POST", "/api/v1/messages", token=key.token, json_body=body)
    assert status == 202
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert twilio.sent[0]["body"] == "Hi there, order 1042 has shipped: https://x.test/t"
    body["variables"]["first_name"] = "Ana"
    status, answer, _ = await call(bridge, "POST", "/api/v1/messages", token=key.token, json_body=body)
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert twilio.sent[1]["body"].startswith("Hi Ana, order 1042")


async def test_scheduled_texts_wait_for_their_time_and_cancel(make_bridge, twilio):
    clock = manual_clock()
    bridge = await make_bridge(config=config(), clock=clock)
    key = await make_key(bridge)
    later = (clock.now() + timedelta(minutes=30)).isoformat()
    status, answer, _ = await call(
        bridge,
        "POST",
        "/api/v1/messages",
        token=key.token,
        json_body={"to": CUSTOMER, "text": "Reminder", "send_at": later},
    )
    assert status == 202 and answer["status"] == "scheduled"
    status, kept, _ = await call(
        bridge,
        "POST",
        "/api/v1/messages",
        token=key.token,
        json_body={"to": CUSTOMER, "text": "Kept", "send_at": (clock.now() + timedelta(minutes=20)).isoformat()},
    )
    status, state, _ = await call(bridge, "GET", f"/api/v1/messages/{answer['id']}", token=key.token)
    assert state["status"] == "scheduled" and state["send_at"]

    status, state, _ = await call(bridge, "DELETE", f"/api/v1/messages/{answer['id']}", token=key.token)
    assert status == 200 and state["status"] == "canceled"
    status, body, _ = await call(bridge, "DELETE", f"/api/v1/messages/{answer['id']}", token=key.token)
    assert status == 409 and body["error"]["code"] == "not_cancelable"

    # The kept one goes out once its time has come, not before.
    await bridge_sleep()
    assert twilio.sent == []
    clock.advance(minutes=21)
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert twilio.sent[0]["body"] == "Kept"
    state = await wait_status(bridge, key.token, kept["id"], "delivered")
    status, body, _ = await call(bridge, "DELETE", f"/api/v1/messages/{kept['id']}", token=key.token)
    assert status == 409 and "delivered" in body["error"]["message"]
    clock.advance(minutes=20)
    await bridge_sleep()
    assert [m["body"] for m in twilio.sent] == ["Kept"]  # the canceled one never goes


async def test_idempotency_key_answers_the_first_answer_again(make_bridge, twilio):
    bridge = await make_bridge(config=config())
    key = await make_key(bridge)
    headers = {"Idempotency-Key": "order-42-shipped"}
    body = {"to": CUSTOMER, "text": "Shipped"}
    status, first, _ = await call(bridge, "POST", "/api/v1/messages", token=key.token, json_body=body, headers=headers)
    assert status == 202
    status, again, replay_headers = await call(
        bridge, "POST", "/api/v1/messages", token=key.token, json_body=body, headers=headers
    )
    assert status == 202 and again == first and replay_headers["Idempotent-Replayed"] == "true"
    before = await counts(bridge)
    status, body_422, _ = await call(
        bridge, "POST", "/api/v1/messages", token=key.token, json_body={**body, "text": "Other"}, headers=headers
    )
    assert status == 422 and body_422["error"]["code"] == "idempotency_key_reused"
    assert await counts(bridge) == before
    # Keys are per API key: another key may use the same Idempotency-Key.
    other = await make_key(bridge, "clinic", ("messages",))
    status, theirs, _ = await call(
        bridge, "POST", "/api/v1/messages", token=other.token, json_body=body, headers=headers
    )
    assert status == 202 and theirs["id"] != first["id"]
    await twilio.wait_for(lambda: len(twilio.sent) == 2)


async def test_bad_input_is_refused_naming_the_field_and_changes_nothing(make_bridge, twilio):
    clock = manual_clock()
    bridge = await make_bridge(config=config(), clock=clock)
    key = await make_key(bridge)
    async with bridge.services.db.session() as session:
        await consent.record(session, phone="+14155559999", action="opt_out", source="keyword")
    now = clock.now()
    ok = {"to": CUSTOMER, "text": "hi"}
    cases = [
        ({**ok, "text": "x" * 1601}, "text_too_long", "text"),
        ({**ok, "to": "+1555"}, "invalid_number", "to"),
        ({**ok, "to": 15551234}, "invalid_field", "to"),
        ({"text": "hi"}, "missing_field", "to"),
        ({"to": CUSTOMER}, "missing_field", "text"),
        ({**ok, "template": "order_shipped"}, "invalid_body", "text"),
        ({**ok, "line": "+14155550111"}, "unknown_line", "line"),
        ({"to": CUSTOMER, "template": "nope"}, "unknown_template", "template"),
        (
            {"to": CUSTOMER, "template": "order_shipped", "variables": {"url": "u"}},
            "missing_variable",
            "variables.order_id",
        ),
        (
            {"to": CUSTOMER, "template": "order_shipped", "variables": {"order_id": {"a": 1}}},
            "invalid_variables",
            "variables.order_id",
        ),
        ({**ok, "variables": {"a": "b"}}, "invalid_field", "variables"),
        ({**ok, "send_at": (now - timedelta(minutes=5)).isoformat()}, "send_at_in_past", "send_at"),
        ({**ok, "send_at": (now + timedelta(days=36)).isoformat()}, "send_at_too_far", "send_at"),
        ({**ok, "send_at": "tomorrow"}, "invalid_send_at", "send_at"),
        ({**ok, "send_at": "2030-01-01T10:00:00"}, "invalid_send_at", "send_at"),
        ({**ok, "category": "promo"}, "invalid_category", "category"),
        ({**ok, "category": "marketing"}, "line_not_a2p", "line"),
        ({**ok, "category": "marketing", "line": A2P_LINE}, "no_opt_in", "to"),
        ({**ok, "metadata": [1]}, "invalid_metadata", "metadata"),
        ({**ok, "metadata": {"x": "y" * 5000}}, "invalid_metadata", "metadata"),
        ({**ok, "status_callback": "ftp://example.com/cb"}, "invalid_callback", "status_callback"),
        ({**ok, "priority": "high"}, "unknown_field", "priority"),
        ({**ok, "to": "+14155559999"}, "opted_out", "to"),
        ([ok], "invalid_body", "body"),
    ]
    before = await counts(bridge, outbox=True)
    for body, code, field in cases:
        status, answer, _ = await call(bridge, "POST", "/api/v1/messages", token=key.token, json_body=body)
        assert status == 422, (body, answer)
        assert answer["error"]["code"] == code, (body, answer)
        assert answer["error"]["message"].startswith(f"{field}:"), (body, answer)
    status, answer, _ = await call(
        bridge,
        "POST",
        "/api/v1/messages",
        token=key.token,
        data="{broken",
        headers={"Content-Type": "application/json"},
    )
    assert status == 400 and answer["error"]["code"] == "invalid_json"
    status, answer, _ = await call(
        bridge, "POST", "/api/v1/messages", token=key.token, data="to=x", headers={"Content-Type": "text/plain"}
    )
    assert status == 415
    status, answer, _ = await call(
        bridge, "POST", "/api/v1/messages", token=key.token, json_body=ok, headers={"Idempotency-Key": "x" * 151}
    )
    assert status == 400 and answer["error"]["message"].startswith("Idempotency-Key:")
    assert await counts(bridge, outbox=True) == before
    assert twilio.sent == []


async def test_marketing_obeys_the_campaign_rules(make_bridge, slack, twilio):
    bridge = await make_bridge(config=config())
    key = await make_key(bridge)
    async with bridge.services.db.session() as session:
        await consent.record(session, phone=CUSTOMER, action="opt_in", source="import", scope="marketing")
    bridge.services.settings  # noqa: B018
    status, answer, _ = await call(
        bridge,
        "POST",
        "/api/v1/messages",
        token=key.token,
        json_body={"to": CUSTOMER, "text": "20% off today", "category": "marketing", "line": A2P_LINE},
    )
    assert status == 202
    async with bridge.services.db.session() as session:
        message = await session.scalar(select(Message).where(Message.origin_ref == answer["id"]))
    assert message.purpose == "marketing" and message.body == "20% off today\nReply STOP to opt out"
    await slack.wait_for(lambda: any("20% off today" in text for text in thread_posts(slack, A2P_CHANNEL)))


async def test_a_text_due_now_is_claimed_as_it_is_stored_and_answered_as_queued(make_bridge, twilio):
    """The caller waits for the text (an order update, a code): it is stored claimed by this process's sender
    and handed to it once stored, not left for the sender's next batch. The answer still says "queued": nothing
    has been sent when it is given."""
    bridge = await make_bridge(config=config())
    key = await make_key(bridge)
    with messages_inserted(bridge) as inserted:
        status, answer, _ = await call(
            bridge, "POST", "/api/v1/messages", token=key.token, json_body={"to": CUSTOMER, "text": "Shipped"}
        )
        await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert status == 202 and answer["status"] == "queued"
    [values] = inserted
    assert "Shipped" in values and MessageStatus.SENDING in values
    assert [m["body"] for m in twilio.sent] == ["Shipped"]
    await wait_status(bridge, key.token, answer["id"], "sent")
