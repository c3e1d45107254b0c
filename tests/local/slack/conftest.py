"""Fixtures of the workspace emulator's self-tests: local mode's workspace with a stand-in bot, and a Web API
client of the tests' emulator."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.local import LocalWorkspace

TOKEN = "xoxb-local-workspace"
SECRET = "0123456789abcdef0123456789abcdef"
PREFIX = "/_local/slack"


class StandInBot:
    """A tiny bot at /slack/events: checks Slack's signature, records what it got, answers like Bolt would."""

    def __init__(self, secret: str = SECRET) -> None:
        self.verifier = SignatureVerifier(secret)
        self.received: list[dict] = []
        self.bad_signatures = 0
        self.status = 200  # what events are answered with
        self.client: AsyncWebClient | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.verifier.is_valid(
            body=body,
            timestamp=request.headers.get("X-Slack-Request-Timestamp"),
            signature=request.headers.get("X-Slack-Signature"),
        ):
            self.bad_signatures += 1
            return web.Response(status=401)
        if request.content_type == "application/json":
            self.received.append({"kind": "event", "body": json.loads(body), "headers": dict(request.headers)})
            return web.Response(status=self.status)
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if "payload" in form:
            return await self._interaction(json.loads(form["payload"]))
        self.received.append({"kind": "command", "body": form})
        if form["text"] == "modal":
            await self.client.views_open(trigger_id=form["trigger_id"], view=MODAL)
            return web.Response()
        return web.json_response({"response_type": "ephemeral", "text": f"pong: {form['text']}"})

    async def _interaction(self, payload: dict) -> web.Response:
        self.received.append({"kind": payload["type"], "body": payload})
        if payload["type"] == "block_actions":
            async with aiohttp.ClientSession() as http:
                await http.post(
                    payload["response_url"],
                    json={
                        "text": "clicked " + payload["actions"][0]["value"],
                        "response_type": "ephemeral",
                        "replace_original": False,
                    },
                )
            return web.Response()
        if payload["type"] != "view_submission":
            return web.Response()
        values = payload["view"]["state"]["values"]
        if not values["name"]["name_input"]["value"]:
            return web.json_response({"response_action": "errors", "errors": {"name": "required"}})
        return web.Response()


MODAL = {
    "type": "modal",
    "callback_id": "campaign_modal",
    "private_metadata": "C0SUPPORT",
    "title": {"type": "plain_text", "text": "Campaign"},
    "submit": {"type": "plain_text", "text": "Go"},
    "blocks": [
        {
            "type": "input",
            "block_id": "name",
            "label": {"type": "plain_text", "text": "Name"},
            "element": {"type": "plain_text_input", "action_id": "name_input"},
        }
    ],
}


@pytest.fixture
async def env():
    """(local mode's workspace, the stand-in bot it delivers to, a Web API client, an HTTP session on the app)"""
    bot = StandInBot()
    app = web.Application()
    app.router.add_post("/slack/events", bot.handle)
    workspace = LocalWorkspace(token=TOKEN, signing_secret=SECRET, bot_events_url="http://127.0.0.1:1/slack/events")
    workspace.mount(app, PREFIX)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    workspace.bot_events_url = base + "/slack/events"
    client = AsyncWebClient(token=TOKEN, base_url=workspace.public_url + "/api/")
    bot.client = client
    async with aiohttp.ClientSession(base_url=base) as http:
        yield workspace, bot, client, http
    await server.close()


@pytest.fixture
async def client(slack):
    """A Web API client of the tests' emulator (the `slack` fixture), with no retry handlers: each test decides
    what the client retries."""
    return AsyncWebClient(token=slack.bot_token, base_url=slack.url, retry_handlers=[])


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def app(slack):
    """A stand-in bot served on its own, for the tests' emulator to deliver to (signing secret of `slack`)."""
    bot = StandInBot(slack.signing_secret)
    application = web.Application()
    application.router.add_post("/{tail:.*}", bot.handle)
    server = TestServer(application, host="127.0.0.1")
    await server.start_server()
    bot.url = str(server.make_url("")).rstrip("/")
    yield bot
    await server.close()
