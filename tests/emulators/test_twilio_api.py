"""Self-tests of the Twilio emulator: it behaves like Twilio as seen by real clients."""

from __future__ import annotations

import asyncio
import base64
import time
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.emulators import TwilioEmulator


class Receiver:
    """A tiny app stand-in: records every POST and checks the sender's signature."""

    def __init__(self, check_signature) -> None:
        self.check_signature = check_signature
        self.received: list[dict] = []
        self.reply: tuple[int, str] = (200, "")
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(
            {
                "path": request.path,
                "headers": request.headers,
                "body": body,
                "form": dict(parse_qsl(body.decode())) if request.content_type.endswith("urlencoded") else {},
                "signature_ok": self.check_signature(request, body),
            }
        )
        status, text = self.reply
        return web.Response(status=status, text=text)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        await self._runner.cleanup()


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
async def twilio():
    emulator = TwilioEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()
    assert emulator.server_errors == []


@pytest.fixture
async def twilio_app():
    validator = RequestValidator("test-auth-token")

    def check(request, body):
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        return validator.validate(str(request.url), params, request.headers.get("X-Twilio-Signature", ""))

    receiver = Receiver(check)
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


# ---------------------------------------------------------------------------- Twilio


def messages_url(twilio: TwilioEmulator) -> str:
    return f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"


def basic_header(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def basic(twilio: TwilioEmulator) -> dict:
    return basic_header(twilio.account_sid, twilio.auth_token)


async def test_twilio_send_fetch_and_list(twilio, http):
    form = {"To": "+15551230001", "From": "+15550009999", "Body": "hello"}
    async with http.post(messages_url(twilio), data=form, headers=basic(twilio)) as resp:
        assert resp.status == 201
        message = await resp.json()
    assert message["sid"].startswith("SM") and len(message["sid"]) == 34
    assert (message["status"], message["num_segments"], message["direction"]) == ("queued", "1", "outbound-api")
    assert message["error_code"] is None and message["date_created"].endswith("+0000")
    assert twilio.sent[0]["body"] == "hello"

    async with http.post(messages_url(twilio), data={**form, "Body": "ж" * 71}, headers=basic(twilio)) as resp:
        assert (await resp.json())["num_segments"] == "2"  # UCS-2: 67 per segment
    await twilio.wait_for(lambda: all(r["status"] == "delivered" for r in twilio.sent))

    fetch_url = f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages/{message['sid']}.json"
    async with http.get(fetch_url, headers=basic(twilio)) as resp:
        assert (await resp.json())["status"] == "delivered"
    today = time.strftime("%Y-%m-%d", time.gmtime())
    async with http.get(
        messages_url(twilio), params={"To": "+15551230001", "DateSent>": today}, headers=basic(twilio)
    ) as resp:
        listing = await resp.json()
    assert [m["body"] for m in listing["messages"]] == ["ж" * 71, "hello"] and listing["page"] == 0


async def test_twilio_auth_and_validation_errors(twilio, http):
    form = {"To": "+15551230001", "From": "+15550009999", "Body": "hi"}
    async with http.post(messages_url(twilio), data=form, headers=basic_header(twilio.account_sid, "wrong")) as resp:
        assert resp.status == 401 and (await resp.json())["code"] == 20003
    async with http.post(messages_url(twilio), data={**form, "To": "555"}, headers=basic(twilio)) as resp:
        assert resp.status == 400 and (await resp.json())["code"] == 21211
    twilio.set_number_error("+15551230002", 21610)
    async with http.post(messages_url(twilio), data={**form, "To": "+15551230002"}, headers=basic(twilio)) as resp:
        error = await resp.json()
    assert resp.status == 400 and error == {
        "code": 21610,
        "message": "Attempt to send to unsubscribed recipient",
        "more_info": "https://www.twilio.com/docs/errors/21610",
        "status": 400,
    }
    async with http.post(
        messages_url(twilio), data=b"garbage", headers={**basic(twilio), "Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 400 and (await resp.json())["code"] == 21604
    assert twilio.sent == [] and [r["status"] for r in twilio.requests] == [401, 400, 400, 400]


async def test_twilio_status_callbacks_and_delivery_failure(twilio, twilio_app, http):
    callback = twilio_app.url + "/sms/twilio/status"
    twilio.set_number_error("+15551230003", 30006, at="callback")
    for to in ("+15551230001", "+15551230003"):
        form = {"To": to, "From": "+15550009999", "Body": "hi", "StatusCallback": callback}
        async with http.post(messages_url(twilio), data=form, headers=basic(twilio)) as resp:
            assert resp.status == 201
    await twilio.wait_for(lambda: len(twilio_app.received) == 4)
    by_to = {}
    for request in twilio_app.received:
        assert request["signature_ok"]
        by_to.setdefault(request["form"]["To"], []).append(
            (request["form"]["MessageStatus"], request["form"].get("ErrorCode"))
        )
    assert by_to["+15551230001"] == [("sent", None), ("delivered", None)]
    assert by_to["+15551230003"] == [("sent", None), ("undelivered", "30006")]


async def test_twilio_callback_to_dead_app_is_recorded_not_raised(http):
    twilio = TwilioEmulator(status_delay=0.01)
    await twilio.start()
    try:
        form = {"To": "+15551230001", "From": "+15550009999", "Body": "hi", "StatusCallback": "http://127.0.0.1:9/dead"}
        async with http.post(messages_url(twilio), data=form, headers=basic(twilio)) as resp:
            assert resp.status == 201
        await twilio.wait_for(lambda: len(twilio.callback_failures) == 2)
        assert twilio.sent[0]["status"] == "delivered"
    finally:
        await twilio.stop()


async def test_twilio_per_second_counts_and_faults(twilio, http):
    form = {"To": "+15551230001", "From": "+15550009999", "Body": "hi"}
    for _ in range(3):
        async with http.post(messages_url(twilio), data=form, headers=basic(twilio)) as resp:
            assert resp.status == 201
    assert sum(twilio.per_second_counts().values()) == 3

    twilio.fail("429", 5, retry_after=2)
    async with http.post(messages_url(twilio), data=form, headers=basic(twilio)) as resp:
        assert resp.status == 429 and resp.headers["Retry-After"] == "2" and (await resp.json())["code"] == 20429
    twilio.clear_faults()
    twilio.fail("timeout", 5)
    with pytest.raises(asyncio.TimeoutError):
        await http.post(
            messages_url(twilio), data=form, headers=basic(twilio), timeout=aiohttp.ClientTimeout(total=0.3)
        )
    assert len(twilio.sent) == 3 and twilio.faults_injected == {"429": 1, "timeout": 1}


async def test_twilio_signed_inbound_with_media(twilio, twilio_app, http):
    media_url = twilio.add_media(b"JPEGDATA", "image/jpeg")
    status, _, sid = await twilio.send_inbound(
        twilio_app.url, from_="+15551230001", to="+15550009999", body="pic", media=[(media_url, "image/jpeg")]
    )
    received = twilio_app.received[0]
    assert status == 200 and received["signature_ok"] and received["path"] == "/sms/twilio/inbound"
    form = received["form"]
    assert form["MessageSid"] == sid and form["NumMedia"] == "1" and form["MediaContentType0"] == "image/jpeg"
    assert form["SmsStatus"] == "received" and form["FromCountry"] == "US"

    async with http.get(form["MediaUrl0"], headers=basic(twilio)) as resp:
        assert resp.status == 200 and await resp.read() == b"JPEGDATA"
    async with http.get(form["MediaUrl0"]) as resp:
        assert resp.status == 401

    # Signed for the public URL the app believes it serves, or with a forged signature.
    await twilio.send_inbound(
        twilio_app.url,
        from_="+15551230001",
        to="+15550009999",
        body="x",
        signed_url="https://public.example/sms/twilio/inbound",
    )
    await twilio.send_inbound(twilio_app.url, from_="+15551230001", to="+15550009999", body="x", signature="forged")
    assert [r["signature_ok"] for r in twilio_app.received[1:]] == [False, False]


async def test_twilio_fetches_outbound_media(twilio, twilio_app, http):
    twilio_app.reply = (200, "imagebytes")
    form = {"To": "+15551230001", "From": "+15550009999", "MediaUrl": twilio_app.url + "/media/1"}
    async with http.post(messages_url(twilio), data=form, headers=basic(twilio)) as resp:
        assert resp.status == 201 and (await resp.json())["num_media"] == "1"
    await twilio.wait_for(lambda: twilio.sent[0]["media_fetched"])
    # The receiver only answers POST, so Twilio's GET gets 405 and the message fails with 11200.
    assert twilio.sent[0]["media_fetched"][0][0] == 405
    await twilio.wait_for(lambda: twilio.sent[0]["status"] == "failed")
