"""Self-tests: the emulators behave like Slack and Twilio as seen by real clients."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from twilio.request_validator import RequestValidator

from tests.emulators import SlackEmulator, TwilioEmulator


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
async def slack():
    emulator = SlackEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()
    assert emulator.server_errors == []


@pytest.fixture
async def client(slack):
    # No retry handlers: each test decides what the client retries.
    return AsyncWebClient(token=slack.bot_token, base_url=slack.url, retry_handlers=[])


@pytest.fixture
async def slack_app():
    verifier = SignatureVerifier("test-signing-secret")
    receiver = Receiver(lambda request, body: verifier.is_valid_request(body, dict(request.headers)))
    await receiver.start()
    yield receiver
    await receiver.stop()


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


# ---------------------------------------------------------------------------- Slack


async def test_post_thread_update_react_delete(slack, client):
    root = await client.chat_postMessage(
        channel="C0SMS", text="root", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    )
    assert root["ok"] and root["channel"] == "C0SMS"
    assert root["message"]["bot_id"] == "B0BOT" and root["message"]["user"] == "U0BOT"
    reply = await client.chat_postMessage(channel="C0SMS", text="reply", thread_ts=root["ts"])
    assert float(reply["ts"]) > float(root["ts"])
    assert [m["text"] for m in slack.roots("C0SMS")] == ["root"]
    assert [m["text"] for m in slack.thread("C0SMS", root["ts"])] == ["reply"]

    updated = await client.chat_update(channel="C0SMS", ts=root["ts"], text="root v2")
    assert updated["message"]["edited"]["user"] == "B0BOT"
    assert slack.message("C0SMS", root["ts"])["edited"] is True

    await client.reactions_add(channel="C0SMS", timestamp=root["ts"], name="white_check_mark")
    with pytest.raises(SlackApiError) as err:
        await client.reactions_add(channel="C0SMS", timestamp=root["ts"], name="white_check_mark")
    assert err.value.response["error"] == "already_reacted"
    assert slack.message("C0SMS", root["ts"])["reactions"] == {"white_check_mark": ["U0BOT"]}
    await client.reactions_remove(channel="C0SMS", timestamp=root["ts"], name="white_check_mark")
    with pytest.raises(SlackApiError) as err:
        await client.reactions_remove(channel="C0SMS", timestamp=root["ts"], name="white_check_mark")
    assert err.value.response["error"] == "no_reaction"

    ephemeral = await client.chat_postEphemeral(channel="C0SMS", user="U1", text="only you")
    assert slack.ephemerals[0]["user"] == "U1" and ephemeral["message_ts"]
    await client.chat_delete(channel="C0SMS", ts=reply["ts"])
    assert slack.thread("C0SMS", root["ts"]) == []
    assert [name for name, _ in slack.calls].count("chat.postMessage") == 2


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_api_errors_are_http_200_like_slack(slack, client, http):
    with pytest.raises(SlackApiError) as err:
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.url).auth_test()
    assert err.value.response.status_code == 200 and err.value.response["error"] == "invalid_auth"
    async with http.post(slack.url + "chat.postMessage", data={"channel": "C1", "text": "x"}) as resp:
        assert resp.status == 200 and (await resp.json())["error"] == "not_authed"
    headers = {"Authorization": f"Bearer {slack.bot_token}", "Content-Type": "application/json"}
    async with http.post(slack.url + "chat.postMessage", data=b"{not json", headers=headers) as resp:
        assert resp.status == 200 and (await resp.json())["error"] == "invalid_json"
    for kwargs, error in [
        ({"channel": "C1", "blocks": "[{]"}, "invalid_blocks_format"),
        ({"channel": "C1", "blocks": [{"no": "type"}]}, "invalid_blocks"),
        ({"channel": "C1"}, "no_text"),
        ({"channel": "not a channel", "text": "x"}, "channel_not_found"),
    ]:
        with pytest.raises(SlackApiError) as err:
            await client.chat_postMessage(**kwargs)
        assert err.value.response["error"] == error
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C1", ts="1.000001", text="x")
    assert err.value.response["error"] == "message_not_found"
    assert (await client.auth_test())["user_id"] == "U0BOT"


async def test_users_info(slack, client):
    slack.add_user("U1", real_name="Ada Lovelace", phone="+15551230000", tz="Europe/London")
    user = (await client.users_info(user="U1"))["user"]
    assert user["real_name"] == "Ada Lovelace" and user["profile"]["phone"] == "+15551230000"
    assert user["tz"] == "Europe/London" and isinstance(user["tz_offset"], int)
    with pytest.raises(SlackApiError) as err:
        await client.users_info(user="U404")
    assert err.value.response["error"] == "user_not_found"


async def test_files_upload_v2_round_trip_and_download(slack, client, http):
    root = await client.chat_postMessage(channel="C0SMS", text="thread")
    result = await client.files_upload_v2(
        channel="C0SMS",
        thread_ts=root["ts"],
        content=b"\x89PNG-bytes",
        filename="pic.png",
        title="A picture",
        initial_comment="see",
    )
    file_id = result["file"]["id"]
    stored = slack.files[file_id]
    assert stored["bytes"] == b"\x89PNG-bytes" and stored["title"] == "A picture" and stored["mimetype"] == "image/png"
    assert (stored["channel"], stored["thread_ts"]) == ("C0SMS", root["ts"])
    [shared] = slack.thread("C0SMS", root["ts"])
    assert shared["text"] == "see" and shared["files"][0]["id"] == file_id
    assert (await client.files_info(file=file_id))["file"]["size"] == 10

    async with http.get(stored["url_private"], headers={"Authorization": f"Bearer {slack.bot_token}"}) as resp:
        assert resp.status == 200 and await resp.read() == b"\x89PNG-bytes"
    async with http.get(stored["url_private_download"]) as resp:  # no token: Slack's sign-in page
        assert resp.content_type == "text/html"


async def test_channel_rate_limit_429_seen_by_client(client):
    slack = SlackEmulator(channel_rate_per_sec=1)
    await slack.start()
    try:
        plain = AsyncWebClient(token=slack.bot_token, base_url=slack.url, retry_handlers=[])
        await plain.chat_postMessage(channel="C1", text="one")
        await plain.chat_postMessage(channel="C2", text="other channel is fine")
        with pytest.raises(SlackApiError) as err:
            await plain.chat_postMessage(channel="C1", text="two")
        assert err.value.response.status_code == 429
        assert err.value.response.headers["Retry-After"] == "1" and err.value.response["error"] == "ratelimited"

        retrying = AsyncWebClient(
            token=slack.bot_token,
            base_url=slack.url,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
        )
        started = time.monotonic()
        await retrying.chat_postMessage(channel="C1", text="three")
        assert time.monotonic() - started >= 0.5
        assert [m["text"] for m in slack.messages["C1"]] == ["one", "three"]
    finally:
        await slack.stop()


async def test_injected_faults(slack, client, http):
    slack.fail("429", 5, retry_after=3, methods={"chat.postMessage"})
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 429 and err.value.response.headers["Retry-After"] == "3"
    assert (await client.auth_test())["ok"]  # other methods unaffected
    slack.clear_faults()

    slack.fail("500", 5)
    async with http.post(slack.url + "auth.test") as resp:
        assert resp.status == 500 and resp.content_type == "text/plain"
    slack.clear_faults()

    slack.fail("down", 5)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.post(slack.url + "auth.test")
    slack.clear_faults()

    slack.fail("timeout", 5)
    with pytest.raises(asyncio.TimeoutError):
        await http.post(slack.url + "auth.test", timeout=aiohttp.ClientTimeout(total=0.3))
    slack.clear_faults()
    assert slack.faults_injected == {"429": 1, "500": 1, "down": 1, "timeout": 1}


async def test_views(slack, client):
    view = {"type": "modal", "callback_id": "compose", "title": {"type": "plain_text", "text": "Text"}, "blocks": []}
    opened = await client.views_open(trigger_id="1.2.abc", view=view)
    view_id = opened["view"]["id"]
    updated = await client.views_update(view_id=view_id, view={**view, "private_metadata": "x"})
    assert updated["view"]["id"] == view_id and slack.views[view_id]["private_metadata"] == "x"
    with pytest.raises(SlackApiError) as err:
        await client.views_update(view_id="V404", view=view)
    assert err.value.response["error"] == "not_found"


async def test_signed_event_delivery_and_user_message(slack, slack_app, http):
    url = slack_app.url + "/slack/events"
    status, _ = await slack.send_event(url, {"type": "app_mention", "text": "hi"}, retry_num=1)
    first = slack_app.received[0]
    envelope = json.loads(first["body"])
    assert status == 200 and first["signature_ok"] and first["headers"]["X-Slack-Retry-Num"] == "1"
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    assert envelope["authorizations"][0]["user_id"] == "U0BOT"

    await slack.send_event(url, {"type": "app_mention"}, timestamp=int(time.time()) - 600)
    await slack.send_event(url, {"type": "app_mention"}, signature="v0=bad")
    assert [r["signature_ok"] for r in slack_app.received[1:]] == [False, False]

    upload = slack.add_file(name="note.txt", mimetype="text/plain", content=b"hello")
    message = await slack.user_message(
        url, channel="C0SMS", user="U1", text="look", thread_ts="1700000000.000100", files=[upload]
    )
    event = json.loads(slack_app.received[-1]["body"])["event"]
    assert (
        event["subtype"] == "file_share"
        and event["files"][0]["size"] == 5
        and event["thread_ts"] == "1700000000.000100"
    )
    assert event["channel_type"] == "channel" and event["ts"] == message["ts"] == event["event_ts"]
    assert slack.message("C0SMS", message["ts"])["user"] == "U1"
    async with http.get(
        event["files"][0]["url_private_download"], headers={"Authorization": f"Bearer {slack.bot_token}"}
    ) as resp:
        assert await resp.read() == b"hello"


async def test_command_response_url_and_action(slack, slack_app, http):
    await slack.send_command(
        slack_app.url + "/slack/commands", text="+15551234567 hello", user_id="U1", channel_id="C0SMS"
    )
    command = slack_app.received[0]
    assert command["signature_ok"] and command["form"]["command"] == "/sms" and command["form"]["trigger_id"]
    async with http.post(command["form"]["response_url"], json={"response_type": "in_channel", "text": "done"}) as resp:
        assert resp.status == 200
    assert slack.response_url_posts == [{"response_type": "in_channel", "text": "done"}]
    assert slack.roots("C0SMS")[-1]["text"] == "done"

    await slack.send_action(
        slack_app.url + "/slack/actions", {"type": "block_actions", "actions": [{"action_id": "a"}]}
    )
    action = slack_app.received[-1]
    assert action["signature_ok"] and json.loads(action["form"]["payload"])["team"]["id"] == "T0TEST"


async def test_wait_for_times_out_with_context(slack):
    with pytest.raises(AssertionError, match="not met"):
        await slack.wait_for(lambda: False, timeout=0.05)


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
