"""`GET /metrics`: what a text's round trip counts and times, a carrier's refusal by its error code, and scrapes
that read nothing from the database."""

from __future__ import annotations

import asyncio

from sqlalchemy import event

from tests.support.bridge import AGENT, CHANNEL, LINE
from tests.support.metrics import scrape, scrape_until, value

CUSTOMER = "+14155550142"
REFUSED = "+14155550143"


async def test_a_round_trip_is_counted_and_timed(make_bridge, slack, twilio):
    bridge = await make_bridge(env={"METRICS_REFRESH_SECONDS": "1"})
    status, _, _ = await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="hello")
    assert status == 200
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    root = slack.roots(CHANNEL)[0]["ts"]
    await slack.user_message(bridge.events_url, channel=CHANNEL, user=AGENT, text="hi back", thread_ts=root)
    await twilio.wait_for(lambda: len(twilio.sent) == 1)

    samples = await scrape_until(bridge.url, "sms_bridge_messages", direction="out", status="sent")
    assert value(samples, "sms_bridge_texts_in_total", line=LINE, carrier="twilio") == 1
    assert value(samples, "sms_bridge_texts_out_total", line=LINE, carrier="twilio", status="sent", error_code="") == 1
    assert value(samples, "sms_bridge_http_answers_total", route="/sms/twilio/inbound", status="200") == 1
    assert value(samples, "sms_bridge_http_answers_total", route="/slack/events", status="200") == 1
    assert value(samples, "sms_bridge_http_answer_seconds_count", route="/sms/twilio/inbound") == 1
    assert value(samples, "sms_bridge_carrier_call_seconds_count", carrier="twilio") == 1
    assert value(samples, "sms_bridge_send_lag_seconds_count") == 1
    assert value(samples, "sms_bridge_slack_call_seconds_count", op="post_root") == 1
    assert (value(samples, "sms_bridge_outbox_lag_seconds_count") or 0) >= 2  # the root card and the text
    assert value(samples, "sms_bridge_messages", direction="in", status="received") == 1
    assert (value(samples, "sms_bridge_slack_outbox", status="done") or 0) >= 2


async def test_a_carrier_refusal_is_counted_by_its_error_code(make_bridge, slack, twilio):
    twilio.set_number_error(REFUSED, 21211)
    bridge = await make_bridge()
    answer = await slack.send_command(
        bridge.url + "/slack/events", user_id=AGENT, channel_id=CHANNEL, text=f"send {REFUSED} hi"
    )
    assert answer[0] == 200
    for _ in range(100):
        _, samples = await scrape(bridge.url)
        labels = {"line": LINE, "carrier": "twilio", "status": "failed", "error_code": "21211"}
        if value(samples, "sms_bridge_texts_out_total", **labels) == 1:
            break
        await asyncio.sleep(0.05)
    assert value(samples, "sms_bridge_texts_out_total", **labels) == 1
    assert (
        value(samples, "sms_bridge_texts_out_total", line=LINE, carrier="twilio", status="sent", error_code="") is None
    )


async def test_a_scrape_reads_nothing_from_the_database(make_bridge, slack, twilio):
    """The database's figures come from the background refresh (here: once, at start, then hourly), so a text
    stored after it shows in the counters (once taken into its conversation, moments after the webhook's 200)
    but not in the gauges, and no scrape issues a query."""
    bridge = await make_bridge(env={"METRICS_REFRESH_SECONDS": "3600"})
    while not bridge.services.metrics.refreshed:
        await asyncio.sleep(0.02)
    statements: list[str] = []
    engine = bridge.services.db.engine.sync_engine

    def seen(conn, cursor, statement, *args) -> None:
        if "GROUP BY" in statement.upper() and "COUNT(" in statement.upper():  # the figures' kind of query
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="hello")
        await scrape_until(bridge.url, "sms_bridge_texts_in_total", line=LINE, carrier="twilio")
        for _ in range(5):
            _, samples = await scrape(bridge.url)
            assert value(samples, "sms_bridge_texts_in_total", line=LINE, carrier="twilio") == 1
            assert value(samples, "sms_bridge_messages", direction="in", status="received") is None
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements == [], statements
