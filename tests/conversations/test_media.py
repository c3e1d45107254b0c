"""MMS both ways: customer pictures into the thread, agent files out through signed media links."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from storage.models import Message
from tests.support.bridge import AGENT, CHANNEL, LINE

CUSTOMER = "+14155550126"
PNG = b"\x89PNG\r\n\x1a\n" + b"picture-bytes" * 50


async def test_inbound_mms_is_uploaded_to_the_thread(bridge, slack, twilio):
    url = twilio.add_media(PNG, "image/png")
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="see photo", media=[(url, "image/png")])
    # Shared once files.completeUploadExternal has run, not when the bytes arrive at the upload URL.
    await slack.wait_for(lambda: any(f["bytes"] == PNG and f.get("channel") for f in slack.files.values()), timeout=10)
    upload = next(f for f in slack.files.values() if f["bytes"] == PNG)
    assert upload["channel"] == CHANNEL
    assert upload["thread_ts"] == slack.roots(CHANNEL)[0]["ts"]


async def test_file_shared_in_thread_goes_out_as_mms(bridge, slack, twilio):
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="send me the menu")
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    thread = slack.roots(CHANNEL)[0]["ts"]
    file = slack.add_file(name="menu.png", mimetype="image/png", content=PNG, user=AGENT)
    await slack.user_message(
        bridge.events_url, channel=CHANNEL, user=AGENT, text="here you go", thread_ts=thread, files=[file]
    )
    await twilio.wait_for(lambda: twilio.sent and twilio.sent[0].get("media_fetched"), timeout=10)
    sent = twilio.sent[0]
    assert sent["body"] == "here you go"
    assert len(sent["media_urls"]) == 1 and sent["media_urls"][0].startswith(bridge.url + "/media/")
    assert sent["media_fetched"][0] == (200, PNG)


async def test_media_link_is_refused_when_forged(bridge):
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.get(bridge.url + "/media/abc.9999999999.forged") as resp:
            assert resp.status == 404


async def _agent_shares_a_file_while_slack_holds_downloads(bridge, slack, twilio, seconds: float) -> int:
    """An agent's reply with a file, whose download Slack holds for `seconds` (then drops). Returns the message
    id once its download is under way."""
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="send me the menu")
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    thread = slack.roots(CHANNEL)[0]["ts"]
    slack.fail("timeout", seconds, methods={"files-pri"})
    file = slack.add_file(name="menu.png", mimetype="image/png", content=PNG, user=AGENT)
    await slack.user_message(
        bridge.events_url, channel=CHANNEL, user=AGENT, text="here you go", thread_ts=thread, files=[file]
    )
    await slack.wait_for(lambda: slack.faults_injected["timeout"] >= 1, what="the file download under way")
    async with bridge.services.db.session() as session:
        return await session.scalar(select(Message.id).where(Message.direction == "out"))


async def test_slow_slack_file_download_holds_no_transaction(bridge, slack, twilio):
    message_id = await _agent_shares_a_file_while_slack_holds_downloads(bridge, slack, twilio, 4.0)
    # While Slack takes its time, the claim is committed and nothing holds the row (nor, on SQLite, the database).
    async with asyncio.timeout(2):
        async with bridge.services.db.session() as session:
            message = await session.scalar(select(Message).where(Message.id == message_id).with_for_update(nowait=True))
            assert message.status == "sending"
    status, _, _ = await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="still there?")
    assert status == 200
    # The held download was dropped: retried shortly, and the text then goes out once, with its picture.
    await twilio.wait_for(lambda: twilio.sent and twilio.sent[0].get("media_fetched"), timeout=20)
    assert [s["body"] for s in twilio.sent] == ["here you go"]
    assert twilio.sent[0]["media_fetched"][0] == (200, PNG)


async def test_claim_lost_during_a_slack_file_download_is_left_to_its_new_owner(bridge, slack, twilio):
    message_id = await _agent_shares_a_file_while_slack_holds_downloads(bridge, slack, twilio, 2.0)
    later = bridge.services.clock.now() + timedelta(hours=1)
    async with bridge.services.db.session() as session:  # as a replica reconciling a lapsed claim would
        await session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(status="queued", claim_until=None, next_attempt_at=later)
        )
    await asyncio.sleep(3.0)  # the download has ended (dropped) and the sender has seen it
    async with bridge.services.db.session() as session:
        message = await session.get(Message, message_id)
    assert (message.status, message.error_message, message.attempts) == ("queued", None, 1)
    assert not twilio.sent
