"""Twilio Programmable Messaging: the REST client, its webhooks, its error catalogue, its reconciliation
(`TwilioCarrier.find_sent` lists the Message resources sent to a number)."""

from bot.carriers.twilio.client import TwilioCarrier
from bot.carriers.twilio.webhooks import (
    CALLBACK_MESSAGE_PARAM,
    INBOUND_PATH,
    STATUS_PATH,
    parse_callback_message_id,
    parse_inbound,
    parse_status,
    status_callback_url,
)

__all__ = [
    "CALLBACK_MESSAGE_PARAM",
    "INBOUND_PATH",
    "STATUS_PATH",
    "TwilioCarrier",
    "parse_callback_message_id",
    "parse_inbound",
    "parse_status",
    "status_callback_url",
]
