"""Twilio's webhooks: inbound messages and delivery status. Signature first, then store, then answer."""

from __future__ import annotations

import logging

from aiohttp import web

from bot import limits
from bot.carriers.twilio import parse_callback_message_id, parse_inbound, parse_status
from bot.conversations.service import receive_inbound
from bot.messaging.status import record_status
from bot.validation import check_text, parse_digits
from handlers.common import SERVICES, bad_request, read_form

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def _verified_form(request: web.Request) -> dict[str, str]:
    """The form fields, once `X-Twilio-Signature` proves Twilio sent them; raises 4xx otherwise."""
    services = request.app[SERVICES]
    form = await read_form(request)
    url = services.settings.callback_url(request.path_qs)
    signature = request.headers.get("X-Twilio-Signature")
    if not signature:
        raise web.HTTPUnauthorized(text="missing X-Twilio-Signature")
    if not services.carrier.signature_ok(url, form, signature):
        log.warning("twilio webhook %s: bad signature", request.path)
        raise web.HTTPForbidden(text="X-Twilio-Signature does not match")
    # NUL cannot be stored as text (PostgreSQL refuses it) and carries no meaning in an SMS.
    return {key: value.replace("\x00", "") for key, value in form.items()}


async def inbound(request: web.Request) -> web.Response:
    form = await _verified_form(request)
    try:
        message = parse_inbound(form)
        check_text(message.carrier_sid, "MessageSid", limit=limits.MESSAGE_SID)
        check_text(message.from_.strip(), "From", limit=limits.PHONE)
    except ValueError as exc:  # InvalidInput too
        raise bad_request(f"inbound webhook: {exc}") from None
    await receive_inbound(request.app[SERVICES], message)
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


async def status(request: web.Request) -> web.Response:
    form = await _verified_form(request)
    try:
        update = parse_status(form)
        check_text(update.carrier_sid, "MessageSid", limit=limits.STATUS_SID)
        check_text(update.status, "MessageStatus", limit=limits.STATUS)
        if form.get("ErrorCode"):
            parse_digits(form["ErrorCode"], "ErrorCode", maximum=limits.ERROR_CODE_MAX)
        message_id = parse_callback_message_id(request.query, maximum=limits.MESSAGE_ID_MAX)
    except ValueError as exc:  # InvalidInput too
        raise bad_request(f"status callback: {exc}") from None
    await record_status(request.app[SERVICES], update, message_id)
    return web.Response(status=204)


def register(app: web.Application) -> None:
    app.router.add_post("/sms/twilio/inbound", inbound)
    app.router.add_post("/sms/twilio/status", status)
