"""MMS both ways: customer pictures into the thread, agent files out through signed media links."""

from __future__ import annotations

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
    await slack.wait_for(lambda: slack.roots(CHANNEL) and slack.thread(CHANNEL, slack.roots(CHANNEL)[0]["ts"]))
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
