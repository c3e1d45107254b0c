"""`GET /api/v1/openapi.json`: a valid OpenAPI 3.1 document describing every `/api/v1` route the app serves."""

from __future__ import annotations

from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from bot.api.openapi import document
from tests.api.helpers import call, check_against_spec, config, make_key


def test_the_description_is_valid_openapi_3_1():
    spec = document("https://sms.example.com")
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises OpenAPIValidationError naming what is wrong


def test_the_validator_does_catch_a_broken_description():
    spec = document("https://sms.example.com")
    spec["paths"]["/api/v1/messages"]["post"]["responses"]["202"] = {"content": {}}  # no description
    try:
        validate(spec)
    except OpenAPIValidationError:
        return
    raise AssertionError("a response without a description passed validation")


def test_answers_are_checked_against_their_schemas():
    check_against_spec("GET", "/api/v1/messages/msg_x", 404, {"error": {"code": "not_found", "message": "id: ..."}})
    try:
        check_against_spec("GET", "/api/v1/messages/msg_x", 404, {"error": "a bare string"})
    except Exception:  # noqa: BLE001 - jsonschema's ValidationError
        return
    raise AssertionError("an error body of the wrong shape passed")


async def test_every_api_route_is_described_and_served(make_bridge):
    bridge = await make_bridge(config=config())
    served = {
        (resource.canonical, route.method.lower())
        for resource in bridge.app.router.resources()
        if resource.canonical.startswith("/api/v1/")
        for route in resource
        if route.method != "HEAD"
    }
    spec = document(bridge.url)
    described = {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "delete", "put", "patch")
    }
    assert served == described

    key = await make_key(bridge, "docs", ("messages",))
    status, body, _ = await call(bridge, "GET", "/api/v1/openapi.json", token=key.token)
    assert status == 200 and body == document(bridge.url)
    status, body, _ = await call(bridge, "GET", "/api/v1/openapi.json")
    assert status == 401


async def test_the_paging_routes_answer_as_described(make_bridge, twilio):
    bridge = await make_bridge(config=config())
    key = await make_key(bridge, "pager", ("notify",))
    status, created, _ = await call(
        bridge, "POST", "/api/v1/notify", token=key.token, json_body={"to": "+14155550177", "text": "disk full"}
    )
    assert status == 202
    status, state, _ = await call(bridge, "GET", f"/api/v1/notifications/{created['id']}", token=key.token)
    assert status == 200 and state["recipients"][0]["phone"] == "+14155550177"
    status, _body, _ = await call(bridge, "GET", "/api/v1/notifications/999", token=key.token)
    assert status == 404
    status, _body, _ = await call(bridge, "POST", "/api/v1/notify", token=key.token, json_body={"to": "x"})
    assert status == 400
    status, _body, _ = await call(bridge, "POST", "/api/v1/alertmanager", token=key.token, json_body={"version": "3"})
    assert status == 400
