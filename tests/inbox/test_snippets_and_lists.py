"""Snippets (`/sms snippet`, `!NAME` in a thread), `/sms inbox` and `/sms find`, and the inbox metrics."""

from __future__ import annotations

import asyncio
import re

import aiohttp

from bot.contacts import service as contacts
from tests.inbox.helpers import CUSTOMER, command, open_thread, thread_text
from tests.support.bridge import ADMIN, AGENT, CHANNEL, LINE
from tests.support.metrics import scrape_until, value

SECOND = "+14155550188"


async def test_snippet_commands_and_their_bad_input(bridge, slack):
    assert "No snippets yet" in await command(bridge, slack, "snippet list")
    assert "Only admins" in await command(bridge, slack, "snippet add thanks Thank you!", user=AGENT)
    refused = await command(bridge, slack, 'snippet add "my reply" Hello there', user=ADMIN)
    assert "'my reply' has a space" in refused and "Nothing was saved" in refused
    assert "letters, digits" in await command(bridge, slack, "snippet add th@nks Hi", user=ADMIN)
    assert "needs a text" in await command(bridge, slack, "snippet add thanks", user=ADMIN)
    assert "unknown fields: order" in await command(bridge, slack, "snippet add t Hi {order}", user=ADMIN)
    assert "No snippets yet" in await command(bridge, slack, "snippet list")

    assert "Saved snippet `!thanks`" in await command(
        bridge, slack, "snippet add Thanks Thanks {first_name|there}, talk soon!", user=ADMIN
    )
    assert "Replaced" in await command(bridge, slack, "snippet add thanks Thanks {first_name|there}!", user=ADMIN)
    listed = await command(bridge, slack, "snippet list")
    assert "`!thanks` — Thanks {first_name|there}!" in listed
    assert "no snippet `!nope`" in await command(bridge, slack, "snippet delete nope", user=ADMIN)
    assert "Deleted" in await command(bridge, slack, "snippet delete thanks", user=ADMIN)
    assert "No snippets yet" in await command(bridge, slack, "snippet list")


async def test_a_bang_reply_sends_the_snippet_filled_and_an_unknown_one_sends_nothing(bridge, slack, twilio):
    await command(bridge, slack, "snippet add thanks Thanks {first_name|there}!", user=ADMIN)
    ts = await open_thread(bridge, slack, twilio)
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="!thanks", thread_ts=ts)
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert twilio.sent[0]["body"] == "Thanks there!"
    await slack.wait_for(lambda: "sent snippet `!thanks`: Thanks there!" in thread_text(slack, ts))

    await contacts.save(bridge.services, CUSTOMER, name="Dana Scully")
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="!THANKS", thread_ts=ts)
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert twilio.sent[1]["body"] == "Thanks Dana!"

    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="!nope", thread_ts=ts)
    await slack.wait_for(lambda: any("no snippet `!nope`" in e["text"] for e in slack.ephemerals))
    [told] = [e for e in slack.ephemerals if "no snippet" in e["text"]]
    assert told["user"] == AGENT
    await asyncio.sleep(0.5)
    assert len(twilio.sent) == 2
    # Not exactly `!NAME`: an ordinary reply.
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="!thanks a lot", thread_ts=ts)
    await twilio.wait_for(lambda: len(twilio.sent) == 3)
    assert twilio.sent[2]["body"] == "!thanks a lot"


async def test_inbox_lists_open_conversations_longest_waiting_first_with_links(bridge, slack, twilio):
    first = await open_thread(bridge, slack, twilio, body="first", customer=CUSTOMER)
    second = await open_thread(bridge, slack, twilio, body="second", customer=SECOND)
    answer = await command(bridge, slack, "inbox")
    assert answer.index("415-555-0123") < answer.index("415-555-0188")
    assert "waiting" in answer and "unassigned" in answer
    assert f"/archives/{CHANNEL}/p{first.replace('.', '')}|open thread>" in answer
    assert f"/archives/{CHANNEL}/p{second.replace('.', '')}|open thread>" in answer
    link = re.search(r"<(http[^|>]+)\|open thread>", answer).group(1)
    async with aiohttp.ClientSession() as http, http.get(link) as resp:  # the workspace knows the link
        assert resp.status == 200 and (await resp.json())["message"]["ts"] == first

    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="hi", thread_ts=second)
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    mine = await command(bridge, slack, "inbox mine")
    assert "415-555-0188" in mine and "415-555-0123" not in mine and "answered" in mine
    unassigned = await command(bridge, slack, "inbox unassigned")
    assert "415-555-0123" in unassigned and "415-555-0188" not in unassigned
    assert "Unknown filter 'later'" in await command(bridge, slack, "inbox later")
    await command(bridge, slack, f"resolve {CUSTOMER}")
    assert "415-555-0123" not in await command(bridge, slack, "inbox all")


async def test_find_by_number_fragment_name_or_tag(bridge, slack, twilio):
    await open_thread(bridge, slack, twilio, customer=CUSTOMER)
    await open_thread(bridge, slack, twilio, customer=SECOND)
    await contacts.save(bridge.services, SECOND, name="Fox Mulder", tags="vip")
    assert "415-555-0188" in await command(bridge, slack, "find 0188")
    found = await command(bridge, slack, "find 555")
    assert "415-555-0188" in found and "415-555-0123" in found
    by_name = await command(bridge, slack, "find mulder")
    assert "415-555-0188" in by_name and "(Fox Mulder)" in by_name and "0123" not in by_name
    assert "415-555-0188" in await command(bridge, slack, "find VIP")
    assert "No conversation matches 'nobody'" in await command(bridge, slack, "find nobody")
    assert "Usage" in await command(bridge, slack, "find")


async def test_time_to_first_answer_and_to_resolve_are_histograms_per_line(make_bridge, slack, twilio):
    bridge = await make_bridge(env={"METRICS_REFRESH_SECONDS": "1"})
    ts = await open_thread(bridge, slack, twilio)
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="hi", thread_ts=ts)
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    await command(bridge, slack, f"resolve {CUSTOMER}")
    samples = await scrape_until(bridge.url, "sms_bridge_time_to_resolve_seconds_count", line=LINE)
    assert value(samples, "sms_bridge_time_to_first_answer_seconds_count", line=LINE) == 1
    assert value(samples, "sms_bridge_time_to_first_answer_seconds_bucket", line=LINE, le="60") == 1
    assert value(samples, "sms_bridge_time_to_resolve_seconds_count", line=LINE) == 1
    assert value(samples, "sms_bridge_time_to_resolve_seconds_bucket", line=LINE, le="+Inf") == 1
