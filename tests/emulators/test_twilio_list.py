"""The Twilio emulator's Message list behaves as Twilio's API description says, and the Twilio carrier reads it
back to a claim's start, queued messages included."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest

from bot.carriers.base import AmbiguousCarrierError, OutboundSMS
from bot.carriers.twilio import TwilioCarrier
from tests.emulators import TwilioEmulator

LINE, OTHER_LINE = "+15550009999", "+15550008888"
CUSTOMER = "+15551230001"


def auth(twilio: TwilioEmulator) -> dict[str, str]:
    token = base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def messages_url(twilio: TwilioEmulator) -> str:
    return f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def create(http, twilio, body: str, *, to: str = CUSTOMER, sender: str = LINE) -> dict:
    form = {"To": to, "From": sender, "Body": body}
    async with http.post(messages_url(twilio), data=form, headers=auth(twilio)) as resp:
        assert resp.status == 201
        return await resp.json()


async def listed(http, twilio, url: str | None = None, **query) -> dict:
    async with http.get(url or messages_url(twilio), params=query or None, headers=auth(twilio)) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_a_message_is_queued_without_date_sent_then_sent(http):
    async with TwilioEmulator(queue_hold=0.3) as twilio:
        created = await create(http, twilio, "hello")
        assert created["status"] == "queued" and created["date_sent"] is None
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        # A DateSent filter matches only messages with a date_sent: the queued message is hidden by it.
        assert (await listed(http, twilio, To=CUSTOMER, **{"DateSent>": today}))["messages"] == []
        assert [m["sid"] for m in (await listed(http, twilio, To=CUSTOMER))["messages"]] == [created["sid"]]
        await twilio.wait_for(lambda: twilio.sent[0]["status"] == "delivered")
        page = await listed(http, twilio, To=CUSTOMER, **{"DateSent>": today})
        assert [(m["sid"], m["status"]) for m in page["messages"]] == [(created["sid"], "delivered")]
        assert page["messages"][0]["date_sent"] is not None


async def test_filters_newest_first_and_pages_linked_by_next_page_uri(http):
    async with TwilioEmulator(auto_status=None) as twilio:  # all stay queued: newest first is creation order
        await _page_through(http, twilio)


async def _page_through(http, twilio) -> None:
    sids = [(await create(http, twilio, f"text {i}"))["sid"] for i in range(7)]
    await create(http, twilio, "to someone else", to="+15551230002")
    await create(http, twilio, "from another line", sender=OTHER_LINE)
    page = await listed(http, twilio, To=CUSTOMER, From=LINE, PageSize="3")
    seen = [m["sid"] for m in page["messages"]]
    assert page["page_size"] == 3 and page["previous_page_uri"] is None
    while page["next_page_uri"]:
        # New messages arriving meanwhile never shift the pages that follow (the PageToken names the last one).
        await create(http, twilio, "arrives while paging")
        page = await listed(http, twilio, twilio.url + page["next_page_uri"])
        seen += [m["sid"] for m in page["messages"]]
    assert seen == list(reversed(sids))


async def test_a_created_message_shows_in_the_list_after_the_lag(http):
    async with TwilioEmulator(list_lag=0.5) as twilio:
        created = await create(http, twilio, "lagging")
        assert (await listed(http, twilio, To=CUSTOMER))["messages"] == []
        await asyncio.sleep(0.6)
        assert [m["sid"] for m in (await listed(http, twilio, To=CUSTOMER))["messages"]] == [created["sid"]]


async def test_an_answer_dropped_after_the_create(twilio):
    carrier = TwilioCarrier(twilio.account_sid, twilio.auth_token, twilio.url)
    twilio.drop_answers(1)
    try:
        with pytest.raises(AmbiguousCarrierError):
            await carrier.send(OutboundSMS(to=CUSTOMER, sender=LINE, body="created, answer lost"))
        assert [m["body"] for m in twilio.sent] == ["created, answer lost"]
        assert twilio.faults_injected["answer_dropped"] == 1
        result = await carrier.send(OutboundSMS(to=CUSTOMER, sender=LINE, body="answered"))
        assert result.carrier_sid == twilio.sent[1]["sid"]
    finally:
        await carrier.close()


async def test_find_sent_reads_every_page_back_to_since_queued_messages_included(http):
    async with TwilioEmulator(queue_hold=30) as twilio:  # every message stays queued, date_sent null
        carrier = TwilioCarrier(twilio.account_sid, twilio.auth_token, twilio.url)
        try:
            since = datetime.now(UTC) - timedelta(seconds=1)
            older = await create(http, twilio, "before since")
            an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
            twilio._times[older["sid"]][0] = an_hour_ago.timestamp()
            twilio.resources[older["sid"]]["date_created"] = format_datetime(an_hour_ago)
            sids = [(await create(http, twilio, f"page text {i}"))["sid"] for i in range(450)]
            await create(http, twilio, "other line", sender=OTHER_LINE)
            records = await carrier.find_sent(to=CUSTOMER, sender=LINE, since=since)
        finally:
            await carrier.close()
        assert [r.carrier_sid for r in records] == list(reversed(sids))
        assert {r.status for r in records} == {"queued"} and all(r.sent_at is None for r in records)
        pages = [r for r in twilio.requests if r["method"] == "GET"]
        assert len(pages) == 3  # 450 at 200 a page; the oldest page stops at the message before `since`
