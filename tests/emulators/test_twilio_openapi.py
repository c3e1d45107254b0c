"""The check of the bridge's Twilio traffic against Twilio's own OpenAPI description can fail."""

from __future__ import annotations

import json

import aiohttp

from tests.emulators import TwilioEmulator
from tests.support import twilio_openapi

MESSAGES = "/2010-04-01/Accounts/AC123/Messages.json"


def test_the_description_is_twilios_own_with_its_source():
    source = twilio_openapi.SPEC["x-source"]
    assert source["url"].startswith("https://github.com/twilio/twilio-oai/blob/") and len(source["commit"]) == 40
    assert "/2010-04-01/Accounts/{AccountSid}/Messages.json" in twilio_openapi.SPEC["paths"]


def test_requests_twilio_does_not_describe_are_named():
    ok = [("To", "+14155550100"), ("From", "+14155550199"), ("Body", "hi"), ("MediaUrl", "https://x/y.png")]
    assert twilio_openapi.request_problems("POST", MESSAGES, "", ok) == []
    assert twilio_openapi.request_problems("POST", MESSAGES, "", [("Body", "hi")]) == [
        "POST /2010-04-01/Accounts/{AccountSid}/Messages.json: required form field 'To' missing"
    ]
    [typo] = twilio_openapi.request_problems("POST", MESSAGES, "", [*ok, ("StatusCallBack", "https://x")])
    assert "'StatusCallBack' is not in Twilio's API description" in typo
    [enum] = twilio_openapi.request_problems("POST", MESSAGES, "", [*ok, ("TrafficType", "bulk")])
    assert "TrafficType='bulk' is not one of" in enum
    [query] = twilio_openapi.request_problems("GET", MESSAGES, "DateSent%3E=2026-01-01&Since=2026", [])
    assert "'Since'" in query
    assert "no such path" in twilio_openapi.request_problems("POST", "/2010-04-01/Accounts/AC1/SMS.json", "", [])[0]
    assert "no such method" in twilio_openapi.request_problems("DELETE", MESSAGES, "", [])[0]


def test_answers_that_do_not_fit_the_response_schema_are_named():
    message = {"sid": "SM1", "status": "queued", "num_segments": "1", "date_created": "Thu, 24 Aug 2023 05:01:45 +0000"}
    body = json.dumps(message).encode()
    assert twilio_openapi.answer_problems("POST", MESSAGES, 201, "application/json", body) == []
    assert (
        "Twilio documents ['201']" in twilio_openapi.answer_problems("POST", MESSAGES, 200, "application/json", body)[0]
    )
    wrong = {**message, "status": "sending-ish", "num_segments": 1, "date_created": "2023-08-24", "colour": "red"}
    problems = twilio_openapi.answer_problems("POST", MESSAGES, 201, "application/json", json.dumps(wrong).encode())
    assert len(problems) == 4, problems
    assert any("'sending-ish' is not one of" in p for p in problems)
    assert any("num_segments: int 1, the schema says string" in p for p in problems)


async def test_the_emulator_watch_names_the_request_and_the_test():
    twilio = TwilioEmulator()
    violations = twilio_openapi.watch(twilio)
    await twilio.start()
    try:
        headers = {"Authorization": aiohttp.encode_basic_auth(twilio.account_sid, twilio.auth_token)}
        url = f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
        async with aiohttp.ClientSession(headers=headers) as http:
            form = {"To": "+14155550100", "From": "+14155550199", "Body": "hi", "Colour": "red"}
            async with http.post(url, data=form) as resp:
                assert resp.status in (201, 400)
    finally:
        await twilio.stop()
    [violation] = violations
    assert "'Colour' is not in Twilio's API description" in violation
    assert "test_the_emulator_watch_names_the_request_and_the_test" in violation
