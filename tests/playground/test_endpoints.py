"""The playground's own endpoints, without a browser: served only in local mode, inputs checked."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.app import build_app
from bot.settings import load_settings
from tests.playground.test_playground import free_port


def _paths(app) -> set[str]:
    return {resource.canonical for resource in app.router.resources()}


def test_not_served_with_a_real_slack_token(tmp_path):
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": "xoxb-real",
            "SLACK_SIGNING_SECRET": "s" * 32,
            "SMS_BRIDGE_CONFIG": "",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        }
    )
    paths = _paths(build_app(settings, run_workers=False))
    assert "/" not in paths and not any(p.startswith("/_playground") for p in paths)


@pytest.fixture
async def local(tmp_path):
    port = free_port()
    settings = load_settings(
        {
            "PORT": str(port),
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
        }
    )
    server = TestServer(build_app(settings, run_workers=False), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
            yield http
    finally:
        await server.close()


async def test_page_and_static_files(local):
    async with local.get("/") as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        assert "/_playground/static/playground.js" in await resp.text()
    for name, kind in (("playground.js", "javascript"), ("playground.css", "text/css")):
        async with local.get(f"/_playground/static/{name}") as resp:
            assert resp.status == 200 and kind in resp.content_type
    async with local.get("/_playground/config") as resp:
        config = await resp.json()
    assert config["slack"] == "/_local/slack" and config["phone_ready"] is True
    assert config["lines"][0] == {
        "number": "+14155550100",
        "channel": "C0SUPPORT",
        "kind": "both",
        "brand": "Acme",
        "join_keywords": ["JOIN"],
        "double_opt_in": True,
    }
    assert {p["id"]: p["role"] for p in config["people"]}["U0LEAD"] == "approver"


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"from": "12ab", "to": "+14155550100", "text": "hi"}, "12ab"),
        ({"from": "+14155550123", "to": "+14155550100", "text": "  "}, "text"),
        ({"from": "+14155550123", "to": "+14155550100", "text": "x" * 1601}, "1600"),
        (["not", "an", "object"], "object"),
    ],
)
async def test_inbound_refuses_bad_input(local, body, reason):
    async with local.post("/_playground/inbound", json=body) as resp:
        assert resp.status == 400
        assert reason in (await resp.json())["error"]
    async with local.get("/_playground/phone/texts") as resp:
        assert (await resp.json())["texts"] == []


async def test_inbound_needs_json(local):
    async with local.post(
        "/_playground/inbound", data={"from": "+14155550123", "to": "+14155550100", "text": "hi"}
    ) as resp:
        assert resp.status == 400 and "application/json" in (await resp.json())["error"]


async def test_inbound_goes_through_the_signed_webhook_and_contacts_are_saved(local):
    async with local.post(
        "/_playground/inbound", json={"from": "+1 415 555 0123", "to": "+14155550100", "text": "hello"}
    ) as resp:
        assert resp.status == 200, await resp.text()
    async with local.get("/_playground/phone/texts") as resp:
        [text] = (await resp.json())["texts"]
    assert text["direction"] == "sent" and text["phone"] == "+14155550123" and text["body"] == "hello"
    async with local.post("/_playground/contact", json={"phone": "+14155550123", "first_name": "Dana"}) as resp:
        assert resp.status == 200 and (await resp.json())["ok"] is True
    async with local.post("/_playground/contact", json={"phone": "nope"}) as resp:
        assert resp.status == 400
