"""Nothing secret reaches the logs of an API flow: tokens, callback secrets, one-time codes; numbers masked."""

from __future__ import annotations

import logging

from bot.logs import setup_logging
from tests.api.helpers import CUSTOMER, call, config, make_key
from tests.api.test_callbacks import Receiver
from tests.api.test_verifications import code_in


async def test_an_api_flow_logs_no_secret(make_bridge, twilio, caplog):
    caplog.set_level(logging.INFO)  # the service's default level (LOG_LEVEL)
    bridge = await make_bridge(config=config(allow_private=True))
    key = await make_key(bridge)
    async with Receiver(failures=1) as receiver:
        await call(
            bridge,
            "POST",
            "/api/v1/messages",
            token=key.token,
            json_body={"to": CUSTOMER, "text": "Shipped", "status_callback": receiver.url},
        )
        await twilio.wait_for(lambda: len(receiver.requests) >= 3, timeout=20)
    await call(bridge, "POST", "/api/v1/verifications", token=key.token, json_body={"to": "+14155557777"})
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    code = code_in(twilio)
    await call(
        bridge, "POST", "/api/v1/verifications/check", token=key.token, json_body={"to": "+14155557777", "code": code}
    )
    await call(bridge, "POST", "/api/v1/messages", token="sbk_" + "x" * 43, json_body={"to": CUSTOMER, "text": "x"})
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert any(record.name.startswith("bot.api") for record in caplog.records)  # the flow did log
    for secret in (key.token, key.callback_secret, code, "sbk_" + "x" * 43):
        assert secret not in text
    ours = "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("bot.api"))
    assert CUSTOMER not in ours and "+14155557777" not in ours


def test_debug_logging_leaves_out_the_sql_parameters():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        setup_logging("DEBUG")
        assert not logging.getLogger("aiosqlite").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
