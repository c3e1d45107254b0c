"""Status callbacks: signed JSON of the message's state on every change, retried until 2xx, from a durable
outbox; callback URLs into the operator's own network refused."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.api.callbacks import PublicOnlyResolver
from bot.api.rules import refused_address
from bot.compliance import consent
from storage.models.api import ApiCallback
from tests.api.helpers import CONFIG_TOKEN, CUSTOMER, call, config, make_key
from tests.api.test_messages import counts
from tests.notify.helpers import manual_clock
from tests.support.bridge import free_port


class Receiver:
    """A loopback HTTP server standing for the caller's callback endpoint; fails its first `failures` requests."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.requests: list[tuple[bytes, dict]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/sms"
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((await request.read(), dict(request.headers)))
        if len(self.requests) <= self.failures:
            return web.Response(status=503, text="not now")
        return web.Response(status=204)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks/sms", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def statuses(self) -> list[str]:
        return [json.loads(body)["status"] for body, _ in self.requests]


async def test_every_change_is_posted_signed_and_retried_until_2xx(make_bridge, twilio):
    bridge = await make_bridge(config=config(allow_private=True))
    key = await make_key(bridge)
    async with Receiver(failures=1) as receiver:
        status, answer, _ = await call(
            bridge,
            "POST",
            "/api/v1/messages",
            token=key.token,
            json_body={"to": CUSTOMER, "text": "Shipped", "status_callback": receiver.url, "metadata": {"o": 1}},
        )
        assert status == 202
        await twilio.wait_for(lambda: "delivered" in receiver.statuses(), timeout=20)
        # The first POST was refused (503) and sent again; then every change once, in order.
        statuses = receiver.statuses()
        assert statuses[0] == statuses[1] == "sent"
        assert statuses[1:] == ["sent", "delivered"]
        for body, headers in receiver.requests:
            expected = "sha256=" + hmac.new(key.callback_secret.encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["X-SMS-Bridge-Signature"], expected)
            assert headers["Content-Type"] == "application/json"
        final = json.loads(receiver.requests[-1][0])
        _status, state, _ = await call(bridge, "GET", f"/api/v1/messages/{answer['id']}", token=key.token)
        assert final == state and final["metadata"] == {"o": 1}
    async with bridge.services.db.session() as session:
        rows = (await session.scalars(select(ApiCallback).order_by(ApiCallback.id))).all()
    assert [(row.status, row.attempts) for row in rows] == [("done", 2), ("done", 1)]


async def test_a_cancel_is_reported(make_bridge, twilio):
    bridge = await make_bridge(config=config(allow_private=True))
    key = await make_key(bridge)
    async with Receiver() as receiver:
        status, answer, _ = await call(
            bridge,
            "POST",
            "/api/v1/messages",
            token=key.token,
            json_body={
                "to": CUSTOMER,
                "text": "Later",
                "status_callback": receiver.url,
                "send_at": "2099-01-01T00:00Z",
            },
        )
        assert status == 422 and answer["error"]["code"] == "send_at_too_far"
        later = (bridge.services.clock.now() + timedelta(days=2)).isoformat()
        status, answer, _ = await call(
            bridge,
            "POST",
            "/api/v1/messages",
            token=key.token,
            json_body={"to": CUSTOMER, "text": "Later", "status_callback": receiver.url, "send_at": later},
        )
        assert status == 202 and answer["status"] == "scheduled"
        status, _state, _ = await call(bridge, "DELETE", f"/api/v1/messages/{answer['id']}", token=key.token)
        assert status == 200
        await twilio.wait_for(lambda: receiver.statuses() == ["canceled"])
    assert twilio.sent == []


@pytest.mark.parametrize(
    "address,refused",
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.9", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("::1", True),
        ("fe80::1", True),
        ("fd00::1", True),
        ("::ffff:127.0.0.1", True),
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_which_addresses_are_refused(address, refused):
    assert refused_address(address) is refused


async def test_private_callback_urls_are_refused_at_request_time(make_bridge, twilio):
    bridge = await make_bridge(config=config(allow_private=False))
    key = await make_key(bridge)
    before = await counts(bridge, outbox=True)
    for url, code in (
        ("http://127.0.0.1:8080/cb", "callback_not_allowed"),
        ("http://localhost/cb", "callback_not_allowed"),
        ("http://[::1]/cb", "callback_not_allowed"),
        ("https://169.254.169.254/latest", "callback_not_allowed"),
        ("http://10.0.0.5/cb", "callback_not_allowed"),
        ("ftp://example.com/cb", "invalid_callback"),
        ("https://user:pw@example.com/cb", "invalid_callback"),
        ("not a url", "invalid_callback"),
        ("https://no-such-host.invalid/cb", "invalid_callback"),
    ):
        status, answer, _ = await call(
            bridge,
            "POST",
            "/api/v1/messages",
            token=key.token,
            json_body={"to": CUSTOMER, "text": "x", "status_callback": url},
        )
        assert status == 422, (url, answer)
        assert answer["error"]["code"] == code and answer["error"]["message"].startswith("status_callback:"), url
    # Tokens from the configuration file have no callback secret to sign with.
    body = {"to": CUSTOMER, "text": "x", "status_callback": "https://example.com/cb"}
    status, answer, _ = await call(bridge, "POST", "/api/v1/messages", token=CONFIG_TOKEN, json_body=body)
    assert status == 422 and answer["error"]["code"] == "callback_needs_key"
    assert await counts(bridge, outbox=True) == before
    async with bridge.services.db.session() as session:
        assert await session.scalar(select(func.count(ApiCallback.id))) == 0


async def test_a_callback_is_given_up_after_24_hours(make_bridge, twilio):
    clock = manual_clock()
    bridge = await make_bridge(config=config(allow_private=True), clock=clock)
    key = await make_key(bridge)
    async with Receiver(failures=10**6) as receiver:
        status, answer, _ = await call(
            bridge,
            "POST",
            "/api/v1/messages",
            token=key.token,
            json_body={"to": CUSTOMER, "text": "Shipped", "status_callback": receiver.url},
        )
        await twilio.wait_for(lambda: len(receiver.requests) >= 1, timeout=20)

        async def states() -> list[tuple[str, str | None]]:
            async with bridge.services.db.session() as session:
                rows = (await session.scalars(select(ApiCallback).order_by(ApiCallback.id))).all()
                return [(row.status, row.last_error) for row in rows]

        async def first_row_becomes(wanted: str, attempts: int) -> tuple[str, str | None]:
            for _ in range(400):
                async with bridge.services.db.session() as session:
                    row = await session.scalar(select(ApiCallback).order_by(ApiCallback.id).limit(1))
                    if (
                        row is not None
                        and row.status == wanted
                        and row.attempts >= attempts
                        and row.claim_until is None
                    ):
                        return row.status, row.last_error
                await asyncio.sleep(0.05)
            raise AssertionError(f"the callback never became {wanted} after {attempts} attempts: {await states()}")

        assert await first_row_becomes("pending", 1) == ("pending", "answered HTTP 503")
        clock.advance(hours=23)
        await first_row_becomes("pending", 2)  # tried again, still within its 24 hours
        clock.advance(hours=2)
        status_, error = await first_row_becomes("failed", 3)
        assert status_ == "failed" and error.startswith("gave up: answered HTTP 503")


async def test_two_replicas_post_each_change_once(make_bridge, database_url, twilio):
    if database_url.startswith("sqlite"):
        pytest.skip("replicas share a PostgreSQL database")
    first = await make_bridge(config=config(allow_private=True))
    second = await make_bridge(config=config(allow_private=True))
    key = await make_key(first)
    async with Receiver() as receiver:
        ids = []
        for n in range(20):
            bridge = (first, second)[n % 2]
            status, answer, _ = await call(
                bridge,
                "POST",
                "/api/v1/messages",
                token=key.token,
                json_body={"to": f"+1415555{1000 + n}", "text": f"Order {n}", "status_callback": receiver.url},
            )
            assert status == 202
            ids.append(answer["id"])

        def delivered() -> int:
            return sum(1 for body, _ in receiver.requests if json.loads(body)["status"] == "delivered")

        await twilio.wait_for(lambda: delivered() == 20, timeout=30)
        seen = [(json.loads(body)["id"], json.loads(body)["status"]) for body, _ in receiver.requests]
        assert sorted(seen) == sorted((i, s) for i in ids for s in ("sent", "delivered"))


async def test_a_scheduled_text_to_a_number_that_opted_out_since_is_not_sent(make_bridge, twilio):
    clock = manual_clock()
    bridge = await make_bridge(config=config(allow_private=True), clock=clock)
    key = await make_key(bridge)
    async with Receiver() as receiver:
        status, answer, _ = await call(
            bridge,
            "POST",
            "/api/v1/messages",
            token=key.token,
            json_body={
                "to": CUSTOMER,
                "text": "Reminder: your appointment is tomorrow",
                "send_at": (clock.now() + timedelta(hours=20)).isoformat(),
                "status_callback": receiver.url,
            },
        )
        assert status == 202 and answer["status"] == "scheduled"
        async with bridge.services.db.session() as session:
            await consent.record(session, phone=CUSTOMER, action="opt_out", source="keyword")
        clock.advance(hours=21)
        await twilio.wait_for(lambda: receiver.statuses() == ["failed"], timeout=20)
        final = json.loads(receiver.requests[-1][0])
        assert final["error"]["code"] == "opted_out"
    assert twilio.sent == []


async def test_delivery_resolves_again_and_refuses_private_addresses():
    """A host that resolved to a public address when the text was accepted may resolve elsewhere later: the
    connection a callback is sent on only goes to public addresses."""
    strict, lenient = PublicOnlyResolver(allow_private=False), PublicOnlyResolver(allow_private=True)
    try:
        with pytest.raises(OSError, match="no public address"):
            await strict.resolve("localhost", 80)
        assert {result["host"] for result in await lenient.resolve("localhost", 80)} & {"127.0.0.1", "::1"}
    finally:
        await strict.close()
        await lenient.close()
