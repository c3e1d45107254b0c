"""Local mode keeps its workspace across restarts: the threads the bot's database remembers are still in
Slack, and a customer's next text lands in the same thread."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_app
from bot.local import LocalWorkspace
from bot.local.slack.store import workspace_path
from bot.settings import load_settings
from tests.local.slack.conftest import PREFIX, SECRET, TOKEN
from tests.playground.test_playground import free_port


def test_the_workspace_file_sits_beside_the_database():
    assert workspace_path("sqlite+aiosqlite:///./sms-bridge.db") == Path("./sms-bridge-workspace.db")
    assert workspace_path("sqlite+aiosqlite:////data/bridge.db") == Path("/data/bridge-workspace.db")
    assert workspace_path("postgresql+asyncpg://u@h/db") == Path("sms-bridge-workspace.db")
    assert workspace_path("sqlite+aiosqlite:///:memory:") == Path("sms-bridge-workspace.db")


async def _acknowledge(request: web.Request) -> web.Response:
    return web.Response()


async def _serve(workspace: LocalWorkspace) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/slack/events", _acknowledge)
    workspace.mount(app, PREFIX)
    port = free_port()  # a new one each time: the files' URLs follow
    workspace.bot_events_url = f"http://127.0.0.1:{port}/slack/events"
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, workspace.public_url


async def test_messages_reactions_and_files_survive_a_restart(tmp_path):
    def workspace() -> LocalWorkspace:
        return LocalWorkspace(token=TOKEN, signing_secret=SECRET, bot_events_url="", store_path=tmp_path / "w.db")

    first = workspace()
    runner, url = await _serve(first)
    client = AsyncWebClient(token=TOKEN, base_url=url + "/api/")
    root = await client.chat_postMessage(channel="C0SUPPORT", text="card")
    reply = await client.chat_postMessage(channel="C0SUPPORT", text="reply", thread_ts=root["ts"])
    await client.reactions_add(channel="C0SUPPORT", timestamp=reply["ts"], name="white_check_mark")
    await client.files_upload_v2(channel="C0SUPPORT", thread_ts=root["ts"], content=b"bytes", filename="a.png")
    await first.say("C0SUPPORT", "U0ALICE", "a person's reply", thread_ts=root["ts"])
    deleted = await client.chat_postMessage(channel="C0SUPPORT", text="gone")
    await client.chat_delete(channel="C0SUPPORT", ts=deleted["ts"])
    await runner.cleanup()

    second = workspace()
    runner, url = await _serve(second)
    try:
        client = AsyncWebClient(token=TOKEN, base_url=url + "/api/")
        replies = (await client.conversations_replies(channel="C0SUPPORT", ts=root["ts"]))["messages"]
        assert [m["text"] for m in replies] == ["card", "reply", "", "a person's reply"]
        assert replies[1]["reactions"][0]["name"] == "white_check_mark"
        file = replies[2]["files"][0]
        async with aiohttp.ClientSession() as http:
            async with http.get(file["url_private"], headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                assert await resp.read() == b"bytes"
        assert [m["ts"] for m in (await client.conversations_history(channel="C0SUPPORT"))["messages"]] == [root["ts"]]
        later = await client.chat_postMessage(channel="C0SUPPORT", text="later", thread_ts=root["ts"])
        assert float(later["ts"]) > float(replies[-1]["ts"])
    finally:
        await runner.cleanup()


async def _local_mode(tmp_path: Path, port: int) -> web.AppRunner:
    settings = load_settings(
        {
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}",
        }
    )
    runner = web.AppRunner(build_app(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def _thread_of(http: aiohttp.ClientSession, channel: str, count: int) -> dict:
    """The channel's one thread once it holds `count` replies."""
    for _ in range(500):
        async with http.get(PREFIX + "/state") as resp:
            state = await resp.json()
        roots = next((c["messages"] for c in state["channels"] if c["id"] == channel), [])
        if roots and len(roots[0]["replies"]) >= count:
            assert len(roots) == 1, roots
            return roots[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no thread with {count} replies in {channel}: {state['channels']}")


async def test_local_mode_restarted_keeps_the_thread_and_texts_land_in_it(tmp_path):
    port = free_port()
    runner = await _local_mode(tmp_path, port)
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
        async with http.get("/_playground/config") as resp:
            line = (await resp.json())["lines"][0]
        text = {"from": "+14155550123", "to": line["number"], "text": "hello"}
        async with http.post("/_playground/inbound", json=text) as resp:
            assert resp.status == 200, await resp.text()
        # The root card carries the first text; a reply in the thread shows the root is recorded too.
        async with http.post("/_playground/inbound", json={**text, "text": "still there?"}) as resp:
            assert resp.status == 200, await resp.text()
        before = await _thread_of(http, line["channel"], 1)
        assert "hello" in before["text"]
        await runner.cleanup()

        runner = await _local_mode(tmp_path, port)
        try:
            kept = await _thread_of(http, line["channel"], 1)
            assert kept["ts"] == before["ts"] and kept["replies"] == before["replies"]
            async with http.post("/_playground/inbound", json={**text, "text": "me again"}) as resp:
                assert resp.status == 200, await resp.text()
            after = await _thread_of(http, line["channel"], 2)
            assert after["ts"] == before["ts"] and "me again" in after["replies"][-1]["text"]
        finally:
            await runner.cleanup()
