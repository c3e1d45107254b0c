"""Reconciliation's reading of Telnyx's message detail records, as Telnyx's API description defines the search:
pages of at most 50 records, and a record's status of its own (not a message's recipient status)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from bot.carriers.base import OutboundSMS
from bot.carriers.telnyx.client import TelnyxCarrier

LINE, CUSTOMER = "+14155550100", "+14155550199"
NOWHERE = "http://127.0.0.1:9/sms/telnyx/webhook"  # receipts go nowhere: only the detail records can tell


def _carrier(telnyx) -> TelnyxCarrier:
    return TelnyxCarrier(telnyx.api_key, telnyx.public_key, telnyx.url)


async def test_the_search_asks_for_pages_telnyx_allows_and_reads_them_all(telnyx):
    carrier = _carrier(telnyx)
    since = datetime.now(UTC) - timedelta(minutes=1)
    try:
        for n in range(51):
            await carrier.send(OutboundSMS(to=CUSTOMER, sender=LINE, body=f"text {n}"))
        found = await carrier.find_sent(to=CUSTOMER, sender=LINE, since=since)
    finally:
        await carrier.close()
    assert sorted(record.body for record in found) == sorted(f"text {n}" for n in range(51))
    searches = [dict(parse_qsl(r["query"])) for r in telnyx.requests if r["path"] == "/v2/detail_records"]
    assert [int(query["page[number]"]) for query in searches] == [1, 2]
    assert all(1 <= int(query["page[size]"]) <= 50 for query in searches), searches


async def test_a_records_final_status_is_read_as_the_bridge_s_receipt(telnyx):
    telnyx.set_number_error("+14155550111", 40300, "Blocked as spam", at="delivery")
    telnyx.auto_status = ["sent", "delivered"]
    carrier = _carrier(telnyx)
    since = datetime.now(UTC) - timedelta(minutes=1)
    try:
        for to in (CUSTOMER, "+14155550111"):
            await carrier.send(OutboundSMS(to=to, sender=LINE, body="hi", status_callback=NOWHERE))
        await telnyx.wait_for(lambda: all(r.get("status") for r in telnyx.records.values()), what="finalized")
        delivered = await carrier.find_sent(to=CUSTOMER, sender=LINE, since=since)
        failed = await carrier.find_sent(to="+14155550111", sender=LINE, since=since)
    finally:
        await carrier.close()
    assert [r.status for r in delivered] == ["delivered"]
    assert [r.status for r in failed] == ["undelivered"]  # the record's "failed": the carrier did not deliver it
    assert {r["status"] for r in telnyx.records.values()} == {"delivered", "failed"}


async def test_a_record_without_a_final_status_is_sent_once_it_has_a_send_time(telnyx):
    telnyx.auto_status = ["sent"]
    carrier = _carrier(telnyx)
    since = datetime.now(UTC) - timedelta(minutes=1)
    try:
        await carrier.send(OutboundSMS(to=CUSTOMER, sender=LINE, body="hi", status_callback=NOWHERE))
        [queued] = await carrier.find_sent(to=CUSTOMER, sender=LINE, since=since)
        await telnyx.wait_for(lambda: all(r.get("sent_at") for r in telnyx.records.values()), what="sent")
        [sent] = await carrier.find_sent(to=CUSTOMER, sender=LINE, since=since)
    finally:
        await carrier.close()
    assert (queued.status, queued.sent_at) == ("queued", None)
    assert sent.status == "sent" and sent.sent_at is not None
