"""The check of the bridge's Telnyx traffic against Telnyx's own OpenAPI description can fail."""

from __future__ import annotations

import json

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.emulators import TelnyxEmulator
from tests.support import telnyx_openapi

JSON = "application/json"
SEND = {"from": "+14155550100", "to": "+14155550199", "text": "hi", "webhook_url": "https://example.com/hook"}
SEARCH = "filter[record_type]=messaging&filter[cld]=%2B14155550199&filter[created_at][gte]=2026-01-01T00:00:00%2B00:00"
MESSAGE = {
    "record_type": "message",
    "direction": "outbound",
    "id": "40385f64-5717-4562-b3fc-2c963f66afa6",
    "type": "SMS",
    "to": [{"phone_number": "+14155550199", "status": "queued"}],
    "parts": 1,
    "received_at": "2026-01-01T00:00:00.000+00:00",
    "sent_at": None,
}


def _request(method: str, path: str, query: str = "", body: dict | None = None) -> list[str]:
    raw = json.dumps(body).encode() if body is not None else b""
    return telnyx_openapi.request_problems(method, path, query, raw, JSON if body is not None else "")


def _answer(method: str, path: str, status: int, body: dict) -> list[str]:
    return telnyx_openapi.answer_problems(method, path, status, JSON, json.dumps(body).encode())


def test_the_description_is_telnyxs_own_with_its_source():
    source = telnyx_openapi.SPEC["x-source"]
    assert source["url"].startswith("https://github.com/team-telnyx/openapi/blob/") and len(source["commit"]) == 40
    assert source["path"] == "openapi/spec3.yml"
    assert {"/messages", "/messages/{id}", "/detail_records"} == set(telnyx_openapi.SPEC["paths"])
    assert telnyx_openapi.SPEC["servers"][0]["url"] == "https://api.telnyx.com/v2"


def test_requests_telnyx_does_not_describe_are_named():
    assert _request("POST", "/v2/messages", body=SEND) == []
    [missing] = _request("POST", "/v2/messages", body={"from": "+14155550100", "text": "hi"})
    assert missing == "POST /messages body.to: required, missing"
    [typo] = _request("POST", "/v2/messages", body={**SEND, "webhookUrl": "https://x"})
    assert "body.webhookUrl: not a property" in typo
    [kind] = _request("POST", "/v2/messages", body={**SEND, "media_urls": "https://x/y.png"})
    assert "media_urls: str 'https://x/y.png', the schema says array" in kind
    [enum] = _request("POST", "/v2/messages", body={**SEND, "type": "sms"})
    assert "'sms' is not one of ['SMS', 'MMS']" in enum
    assert "not JSON" in telnyx_openapi.request_problems("POST", "/v2/messages", "", b"to=1", JSON)[0]
    assert _request("GET", "/v2/detail_records", SEARCH + "&sort=-created_at&page[number]=2&page[size]=50") == []
    [size] = _request("GET", "/v2/detail_records", SEARCH + "&page[size]=100")
    assert "page.size: 100 is above the maximum 50" in size
    [record_type] = _request("GET", "/v2/detail_records", "filter[record_type]=sms")
    assert "'sms' is not one of" in record_type
    [member] = _request("GET", "/v2/detail_records", SEARCH + "&page[count]=2")
    assert "'count' is not a member of page" in member
    [unknown] = _request("GET", "/v2/detail_records", SEARCH + "&since=2026")
    assert "'since' is not in Telnyx's API description" in unknown
    [not_uuid] = _request("GET", "/v2/messages/SM123")
    assert "path parameter id: 'SM123' is not a UUID" in not_uuid
    assert "no such path" in _request("POST", "/v2/sms")[0]
    assert "no such method" in _request("DELETE", "/v2/detail_records")[0]


def test_answers_that_do_not_fit_the_response_schema_are_named():
    assert _answer("POST", "/v2/messages", 200, {"data": MESSAGE}) == []
    assert "Telnyx documents ['200', '4XX']" in _answer("POST", "/v2/messages", 201, {"data": MESSAGE})[0]
    wrong = {**MESSAGE, "parts": "1", "sent_at": "yesterday", "created_at": "2026-01-01T00:00:00Z", "type": "sms"}
    problems = _answer("POST", "/v2/messages", 200, {"data": wrong})
    assert len(problems) == 4, problems
    assert any("data.parts: str '1', the schema says integer" in p for p in problems)
    assert any("data.created_at: not a property" in p for p in problems)
    assert _answer("POST", "/v2/messages", 400, {"errors": [{"code": "40300", "title": "Blocked"}]}) == []
    assert "code: required, missing" in _answer("POST", "/v2/messages", 400, {"errors": [{"title": "Blocked"}]})[0]
    record = {"record_type": "message_detail_record", "uuid": MESSAGE["id"], "created_at": "2026-01-01T00:00:00Z"}
    page = {"data": [record], "meta": {"page_number": 1, "page_size": 50, "total_pages": 1, "total_results": 1}}
    assert _answer("GET", "/v2/detail_records", 200, page) == []
    queued = {**page, "data": [{**record, "status": "queued", "sent_at": None}]}
    status, sent_at = _answer("GET", "/v2/detail_records", 200, queued)  # no such status; sent_at is never null
    assert "status: 'queued' is not one of" in status and "sent_at: null, the schema does not allow it" in sent_at
    [kind] = _answer("GET", "/v2/detail_records", 200, {**page, "data": [{**record, "record_type": "mdr"}]})
    assert "record_type: 'mdr' names none of the schemas it may be" in kind


def test_webhooks_that_do_not_fit_the_callbacks_are_named():
    key = Ed25519PrivateKey.generate()
    telnyx = TelnyxEmulator(key)
    inbound = telnyx.event(
        "message.received", telnyx.inbound_payload(from_="+14155550199", to="+14155550100", body="hi")
    )
    assert telnyx_openapi.webhook_problems(inbound) == []
    assert "meta: not a property" in telnyx_openapi.webhook_problems({**inbound, "meta": {"attempt": 1}})[0]
    receipt = telnyx.event("message.finalized", {**MESSAGE, "to": [{"status": "delivered"}]}, url="https://x/h")
    assert telnyx_openapi.webhook_problems(receipt) == []
    receipt["data"]["payload"]["to"][0]["status"] = "failed"
    assert "'failed' is not one of" in telnyx_openapi.webhook_problems(receipt)[0]
    assert "not a messaging event" in telnyx_openapi.webhook_problems(telnyx.event("message.read", {}))[0]


async def test_the_emulator_watch_names_the_request_and_the_test():
    telnyx = TelnyxEmulator(Ed25519PrivateKey.generate(), auto_status=None)
    violations = telnyx_openapi.watch(telnyx)
    await telnyx.start()
    try:
        headers = {"Authorization": f"Bearer {telnyx.api_key}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(f"{telnyx.url}/v2/messages", json={**SEND, "colour": "red"}) as resp:
                assert resp.status == 200
    finally:
        await telnyx.stop()
    [violation] = violations
    assert "POST /messages body.colour: not a property" in violation
    assert "test_the_emulator_watch_names_the_request_and_the_test" in violation
