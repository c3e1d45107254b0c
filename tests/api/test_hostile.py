"""Hostile and broken input to the API: every answer is a clear 4xx JSON error, never a 500, and changes nothing."""

from __future__ import annotations

import json

import aiohttp

from tests.api.helpers import CUSTOMER, auth, check_against_spec, config, make_key
from tests.api.test_messages import counts

NASTY_VALUES = [
    None,
    True,
    0,
    -1,
    1e308,
    10**40,
    "",
    " ",
    "\u202e",
    "\U0001f600" * 2000,
    "a\u0000b",
    [],
    {},
    {"a": [1, {"b": None}]},
    "9" * 5000,
    "http://[::1/x",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-23:59",
    "2030-02-30T10:00:00Z",
    "+999999999999999999",
]
FIELDS = ["to", "line", "text", "template", "variables", "category", "send_at", "status_callback", "metadata"]


async def test_no_field_value_gets_a_500(make_bridge, twilio):
    bridge = await make_bridge(config=config(allow_private=False))
    key = await make_key(bridge)
    before = await counts(bridge, outbox=True)
    seen: set[int] = set()
    async with aiohttp.ClientSession() as http:
        for field in FIELDS:
            for value in NASTY_VALUES:
                body = {"to": CUSTOMER, "text": "hi", field: value}
                if field == "template":
                    body.pop("text")
                raw = json.dumps(body, allow_nan=False) if value != 1e308 else json.dumps(body)
                async with http.post(
                    bridge.url + "/api/v1/messages",
                    data=raw.encode("utf-8", "surrogatepass"),
                    headers={**auth(key.token), "Content-Type": "application/json"},
                ) as resp:
                    answer = await resp.json(content_type=None)
                    seen.add(resp.status)
                    assert resp.status < 500, (field, value, answer)
                    if resp.status != 202:
                        check_against_spec("POST", "/api/v1/messages", resp.status, answer)
                        message = answer["error"]["message"]
                        assert message.split(":")[0].split(".")[0] in (*FIELDS, "body"), (field, value, answer)
        for path in ("/api/v1/messages/%00", "/api/v1/messages/" + "9" * 5000, "/api/v1/messages/msg_%C2%B2"):
            async with http.get(bridge.url + path, headers=auth(key.token)) as resp:
                assert resp.status == 404, path
    assert 202 in seen and 422 in seen
    # Only the requests that were fine (202) stored anything: one message each.
    after = await counts(bridge)
    accepted = after["messages"] - before["messages"]
    assert after["api_messages"] - before["api_messages"] == accepted
