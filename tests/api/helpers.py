"""Shared set-up for the API tests: configuration with templates, keys made as the CLI makes them, requests over
real HTTP whose answers are checked against the service's own OpenAPI description."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
from jsonschema import Draft202012Validator

from bot.api import keys
from bot.api.openapi import document
from tests.support.bridge import DEFAULT_CONFIG

CONFIG_TOKEN = "config-token-0123456789abcdef"
CUSTOMER = "+14155551234"

TEMPLATES = """
[templates]
order_shipped = "Hi {first_name|there}, order {order_id} has shipped: {url}"
"""


def config(*, allow_private: bool = True, extra: str = "") -> str:
    return (
        DEFAULT_CONFIG
        + f"""
[notify]
api_tokens = ["{CONFIG_TOKEN}"]

[api]
allow_private_callbacks = {"true" if allow_private else "false"}
"""
        + TEMPLATES
        + extra
    )


async def make_key(bridge, name: str = "shop", scopes: tuple[str, ...] = ("messages", "verify")) -> keys.NewKey:
    async with bridge.services.db.session() as session:
        return await keys.create(session, name, scopes)


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


_SPEC = document("http://localhost")


def _operation(method: str, path: str) -> dict:
    for template, item in _SPEC["paths"].items():
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]
    raise AssertionError(f"{method} {path} is not in the OpenAPI description")


def check_against_spec(method: str, path: str, status: int, body: Any) -> None:
    """The answer is one the OpenAPI description lists for this route, and its body fits the listed schema."""
    responses = _operation(method, path)["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, not listed in the description"
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": _SPEC["components"]}).validate(body)


async def call(
    bridge, method: str, path: str, *, token: str | None = None, json_body=None, data=None, headers=None
) -> tuple[int, Any, dict]:
    """One real HTTP request; the answer is checked against the OpenAPI description before it is returned."""
    all_headers = {**(auth(token) if token else {}), **(headers or {})}
    async with aiohttp.ClientSession() as session:
        async with session.request(method, bridge.url + path, json=json_body, data=data, headers=all_headers) as resp:
            text = await resp.text()
            body = json.loads(text)
            check_against_spec(method, path.split("?")[0], resp.status, body)
            return resp.status, body, dict(resp.headers)
