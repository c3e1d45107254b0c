"""Telnyx Messaging API v2: the REST client, its webhooks (Ed25519-signed), its error catalogue, its
reconciliation (`TelnyxCarrier.find_sent` searches the message detail records)."""

from bot.carriers.telnyx.client import CALLBACK_MESSAGE_PARAM, TelnyxCarrier
from bot.carriers.telnyx.webhooks import WEBHOOK_PATH

__all__ = ["CALLBACK_MESSAGE_PARAM", "WEBHOOK_PATH", "TelnyxCarrier"]
