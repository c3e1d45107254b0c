"""Logs never carry full phone numbers or secrets, whoever writes them."""

from __future__ import annotations

import logging

from bot.logs import ScrubbingFilter, scrub
from tests.support.bridge import AGENT, CHANNEL, LINE

CUSTOMER = "+14155550128"


def test_scrub_masks_numbers_and_drops_tokens():
    line = scrub("to +14155550128 with xoxb-123-abc Authorization: Basic QUM6dG9r and Bearer s3cr3t.t0k3n")
    assert "+14155550128" not in line and "+1********28" in line
    assert "xoxb-" not in line and "QUM6dG9r" not in line and "s3cr3t" not in line


async def test_a_whole_conversation_logs_no_number_and_no_secret(bridge, slack, twilio, caplog):
    caplog.handler.addFilter(ScrubbingFilter())
    caplog.set_level(logging.DEBUG)
    twilio.set_number_error(CUSTOMER, 30003, at="callback")
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="hello")
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    thread = slack.roots(CHANNEL)[0]["ts"]
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="hi", thread_ts=thread)
    await slack.wait_for(lambda: any("30003" in m["text"] for m in slack.thread(CHANNEL, thread)))
    text = caplog.text
    assert caplog.records, "the flow should have logged something"
    for secret in (CUSTOMER, "14155550128", slack.bot_token, slack.signing_secret, twilio.auth_token):
        assert secret not in text
