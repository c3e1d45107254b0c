"""Exactly once across a lost answer on Telnyx: what Telnyx took is found in its detail records and never resent;
what it never got is sent again once the reconciliation window is over."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from storage.models import Message
from storage.states import MessageStatus
from tests.support.bridge import AGENT, CHANNEL

CUSTOMER = "+14155550199"


async def _outbound(bridge) -> Message:
    async with bridge.services.db.session() as session:
        return await session.scalar(select(Message).where(Message.direction == "out"))


async def _send(bridge, slack, text: str) -> None:
    _, body = await slack.send_command(
        bridge.events_url, text=f"send {CUSTOMER} {text}", user_id=AGENT, channel_id=CHANNEL
    )
    assert "Texting" in json.loads(body)["text"]


async def _wait_status(bridge, slack, status: MessageStatus, timeout: float = 20.0) -> Message:
    async def settled() -> bool:
        message = await _outbound(bridge)
        return message is not None and message.status == status

    for _ in range(int(timeout / 0.1)):
        if await settled():
            return await _outbound(bridge)
        await asyncio.sleep(0.1)  # yields to the bridge's workers
    raise AssertionError(f"the text never became {status}")


async def test_a_lost_answer_is_settled_from_the_detail_records_and_not_resent(make_bridge, slack, telnyx):
    telnyx.auto_status = None  # no receipt webhooks: only the detail records can tell
    telnyx.drop_answers(1)
    bridge = await make_bridge(telnyx=telnyx, env={"SMS_PROVIDER": "telnyx"})
    await _send(bridge, slack, "exactly once")
    message = await _wait_status(bridge, slack, MessageStatus.SENT)
    assert len(telnyx.sent) == 1
    assert message.carrier_sid == telnyx.sent[0]["id"]
    assert any(r["path"] == "/v2/detail_records" for r in telnyx.requests)


async def test_a_send_telnyx_never_got_is_sent_again_after_the_window(make_bridge, slack, telnyx):
    telnyx.fail("down", 1.0)  # the connection is dropped before Telnyx creates anything
    bridge = await make_bridge(telnyx=telnyx, env={"SMS_PROVIDER": "telnyx", "RECONCILE_WINDOW_SECONDS": "5"})
    await _send(bridge, slack, "after the window")
    await telnyx.wait_for(lambda: len(telnyx.sent) == 1, timeout=30)
    message = await _wait_status(bridge, slack, MessageStatus.DELIVERED)
    assert message.carrier_sid == telnyx.sent[0]["id"] and len(telnyx.sent) == 1
