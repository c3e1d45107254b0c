"""The tests' layer on the workspace emulator: injected faults, Slack's per-channel posting limit, and waiting
with context. (The workspace itself is tested in tests/local/slack.)"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.emulators import SlackEmulator


@pytest.fixture
async def client(slack):
    return AsyncWebClient(token=slack.bot_token, base_url=slack.url, retry_handlers=[])


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def test_channel_rate_limit_429_seen_by_client():
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
        assert slack.faults_injected["channel_rate"] == 2
    finally:
        await slack.stop()


async def test_injected_faults(slack, client, http):
    slack.fail("429", 5, retry_after=3, methods={"chat.postMessage"})
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 429 and err.value.response.headers["Retry-After"] == "3"
    assert (await client.auth_test())["ok"]  # other methods unaffected
    assert slack.method_calls("chat.postMessage") == [{"channel": "C1", "text": "x"}]  # refused calls count too
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


async def test_faults_on_uploads_and_response_urls(slack, client, http):
    slack.fail("503", 5, methods={"upload"})
    with pytest.raises(SlackRequestError, match="status: 503"):
        await client.files_upload_v2(channel="C1", content=b"x", filename="a.txt")
    slack.clear_faults()
    slack.fail("500", 5, methods={"response"})
    async with http.post(slack.root + "/response/anything", json={"text": "x"}) as resp:
        assert resp.status == 500
    assert slack.faults_injected == {"503": 1, "500": 1}


async def test_delivering_to_an_app_that_is_down_raises_a_client_error(slack):
    with pytest.raises(aiohttp.ClientError):
        await slack.send_event("http://127.0.0.1:1/slack/events", {"type": "app_mention"})


async def test_wait_for_times_out_with_context(slack):
    with pytest.raises(AssertionError, match="not met"):
        await slack.wait_for(lambda: False, timeout=0.05)


async def test_blocks_slack_would_refuse_are_refused_and_named(slack, client):
    """Block Kit is checked with slack_sdk's models: Slack's limits hold, and what breaks them is answered
    `invalid_blocks` (views: `invalid_arguments`), as Slack answers, and kept to fail the test."""
    long_section = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    too_many = [{"type": "divider"}] * 51
    button = {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}, "action_id": "a"}
    long_button = [{"type": "actions", "elements": [button]}]
    unknown_field = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}, "colour": "red"}]
    for blocks in (long_section, too_many, long_button, unknown_field):
        with pytest.raises(SlackApiError) as err:
            await client.chat_postMessage(channel="C1", text="x", blocks=blocks)
        assert err.value.response["error"] == "invalid_blocks" and err.value.response["errors"]
    await client.chat_postMessage(
        channel="C1", text="x", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}]
    )
    title = {"type": "plain_text", "text": "t" * 25}
    slack.workspace.remember_trigger("1.2.abc", "U1")
    with pytest.raises(SlackApiError) as err:
        await client.views_open(
            trigger_id="1.2.abc", view={"type": "modal", "title": title, "blocks": [{"type": "divider"}]}
        )
    assert err.value.response["error"] == "invalid_arguments"
    violations = list(slack.block_kit_violations)
    slack.block_kit_violations.clear()
    assert len(violations) == 5
    assert all("test_blocks_slack_would_refuse_are_refused_and_named" in v for v in violations)
    assert "text attribute cannot exceed 3000 characters" in violations[0]
    assert "51 blocks, a message holds at most 50" in violations[1]
    assert "75" in violations[2] and "colour" in violations[3] and violations[4].startswith("views.open")
