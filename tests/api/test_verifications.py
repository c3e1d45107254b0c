"""One-time codes: `POST /api/v1/verifications` and `/api/v1/verifications/check` over real HTTP."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select

from bot.compliance import consent
from storage.models import Conversation, Message
from storage.models.api import ApiIdempotency, Verification
from tests.api.helpers import CUSTOMER, call, config, make_key
from tests.api.test_messages import bridge_sleep, thread_posts
from tests.notify.helpers import manual_clock
from tests.support.bridge import A2P_LINE, CHANNEL


async def counts(bridge) -> dict[str, int]:
    """Rows a request could add (the Slack outbox also grows with the delivery receipts of earlier texts)."""
    async with bridge.services.db.session() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model))
            for model in (Message, Verification, ApiIdempotency, Conversation)
        }


def code_in(twilio, index: int = -1) -> str:
    match = re.fullmatch(r"Your (.+) code is ([0-9]{6})", twilio.sent[index]["body"])
    assert match, twilio.sent[index]["body"]
    return match.group(2)


async def test_a_code_is_texted_with_the_brand_and_checked_once(make_bridge, slack, twilio):
    bridge = await make_bridge(config=config())
    key = await make_key(bridge)
    status, answer, _ = await call(bridge, "POST", "/api/v1/verifications", token=key.token, json_body={"to": CUSTOMER})
    assert status == 202 and answer["status"] == "pending" and answer["id"].startswith("ver_")
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert twilio.sent[0]["body"].startswith("Your Acme code is ")
    code = code_in(twilio)
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    status, result, _ = await call(
        bridge, "POST", "/api/v1/verifications/check", token=key.token, json_body={"to": CUSTOMER, "code": wrong}
    )
    assert (status, result) == (200, {"status": "pending"})
    status, result, _ = await call(
        bridge, "POST", "/api/v1/verifications/check", token=key.token, json_body={"to": CUSTOMER, "code": code}
    )
    assert (status, result) == (200, {"status": "approved"})
    status, result, _ = await call(
        bridge, "POST", "/api/v1/verifications/check", token=key.token, json_body={"to": CUSTOMER, "code": code}
    )
    assert status == 404 and result["error"]["code"] == "not_found"  # a code approves once

    # The code is kept only hashed: not in the verification, and masked in the stored text once sent.
    async with bridge.services.db.session() as session:
        verification = await session.get(Verification, answer["id"])
        assert code not in (verification.code_hash, verification.salt)
        for _ in range(100):
            body = await session.scalar(select(Message.body).where(Message.id == verification.message_id))
            if body.endswith("******"):
                break
            await bridge_sleep()
            session.expire_all()
    assert body == "Your Acme code is ******"
    # The thread says a code went out, without showing it.
    await slack.wait_for(lambda: any("one-time code was texted" in text for text in thread_posts(slack, CHANNEL)))
    assert not any(code in text for text in thread_posts(slack, CHANNEL))

    # Another line's brand.
    status, answer, _ = await call(
        bridge, "POST", "/api/v1/verifications", token=key.token, json_body={"to": CUSTOMER, "line": A2P_LINE}
    )
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert twilio.sent[1]["body"].startswith("Your Acme Deals code is ")


async def test_five_wrong_codes_end_it_and_codes_expire(make_bridge, twilio):
    clock = manual_clock()
    bridge = await make_bridge(config=config(), clock=clock)
    key = await make_key(bridge)
    await call(bridge, "POST", "/api/v1/verifications", token=key.token, json_body={"to": CUSTOMER})
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    code = code_in(twilio)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    answers = []
    for _ in range(5):
        _status, result, _ = await call(
            bridge, "POST", "/api/v1/verifications/check", token=key.token, json_body={"to": CUSTOMER, "code": wrong}
        )
        answers.append(result["status"])
    assert answers == ["pending"] * 4 + ["max_attempts_reached"]
    _status, result, _ = await call(
        bridge, "POST", "/api/v1/verifications/check", token=key.token, json_body={"to": CUSTOMER, "code": code}
    )
    assert result == {"status": "max_attempts_reached"}  # the right code no longer helps

    await call(bridge, "POST", "/api/v1/verifications", token=key.token, json_body={"to": CUSTOMER})
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    code = code_in(twilio)
    clock.advance(minutes=10, seconds=1)
    _status, result, _ = await call(
        bridge, "POST", "/api/v1/verifications/check", token=key.token, json_body={"to": CUSTOMER, "code": code}
    )
    assert result == {"status": "expired"}


async def test_a_new_code_replaces_the_pending_one(make_bridge, twilio):
    bridge = await make_bridge(config=config())
    key = await make_key(bridge)
    await call(bridge, "POST", "/api/v1/verifications", token=key.token, json_body={"to": CUSTOMER})
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    first = code_in(twilio)
    await call(bridge, "POST", "/api/v1/verifications", token=key.token, json_body={"to": CUSTOMER})
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    second = code_in(twilio)
    if first != second:
        _s, result, _ = await call(
            bridge, "POST", "/api/v1/verifications/check", token=key.token, json_body={"to": CUSTOMER, "code": first}
        )
        assert result == {"status": "pending"}
    _s, result, _ = await call(
        bridge, "POST", "/api/v1/verifications/check", token=key.token, json_body={"to": CUSTOMER, "code": second}
    )
    assert result == {"status": "approved"}


async def test_five_codes_an_hour_then_429_and_bad_input(make_bridge, twilio):
    clock = manual_clock()
    bridge = await make_bridge(config=config(), clock=clock)
    key = await make_key(bridge)
    for _ in range(5):
        status, _answer, _ = await call(
            bridge, "POST", "/api/v1/verifications", token=key.token, json_body={"to": CUSTOMER}
        )
        assert status == 202
    before = await counts(bridge)
    status, answer, headers = await call(
        bridge, "POST", "/api/v1/verifications", token=key.token, json_body={"to": CUSTOMER}
    )
    assert status == 429 and answer["error"]["code"] == "too_many_codes" and headers["Retry-After"]
    async with bridge.services.db.session() as session:
        await consent.record(session, phone="+14155559999", action="opt_out", source="keyword")
    before = await counts(bridge)
    for body, status_, code, field in (
        ({"to": "+1555"}, 422, "invalid_number", "to"),
        ({"to": "+14155559999"}, 422, "opted_out", "to"),
        ({"to": CUSTOMER, "line": "+14155550111"}, 422, "unknown_line", "line"),
        ({"to": CUSTOMER, "code": "1"}, 422, "unknown_field", "code"),
    ):
        status, answer, _ = await call(bridge, "POST", "/api/v1/verifications", token=key.token, json_body=body)
        assert (status, answer["error"]["code"]) == (status_, code), body
        assert answer["error"]["message"].startswith(f"{field}:")
    for body, code, field in (
        ({"to": CUSTOMER, "code": "12345"}, "invalid_code", "code"),
        ({"to": CUSTOMER, "code": 123456}, "invalid_field", "code"),
        ({"to": CUSTOMER}, "missing_field", "code"),
    ):
        status, answer, _ = await call(bridge, "POST", "/api/v1/verifications/check", token=key.token, json_body=body)
        assert (status, answer["error"]["code"]) == (422, code), body
        assert answer["error"]["message"].startswith(f"{field}:")
    assert await counts(bridge) == before
    async with bridge.services.db.session() as session:
        assert await session.scalar(select(func.count(Verification.id))) == 5
    clock.advance(minutes=61)
    status, _answer, _ = await call(
        bridge, "POST", "/api/v1/verifications", token=key.token, json_body={"to": CUSTOMER}
    )
    assert status == 202


async def test_concurrent_requests_cannot_pass_the_hourly_limit_together(make_bridge, twilio):
    bridge = await make_bridge(config=config())
    key = await make_key(bridge)
    answers = await asyncio.gather(
        *(call(bridge, "POST", "/api/v1/verifications", token=key.token, json_body={"to": CUSTOMER}) for _ in range(8))
    )
    assert sorted(status for status, _body, _headers in answers) == [202] * 5 + [429] * 3
