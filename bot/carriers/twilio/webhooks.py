"""Twilio's webhooks: inbound messages (`/sms/twilio/inbound`) and delivery status (`/sms/twilio/status`).
Form fields as https://www.twilio.com/docs/messaging/guides/webhook-request documents them; the signature is
checked (`X-Twilio-Signature`) before any field is used."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from bot import limits
from bot.carriers.base import (
    InboundSMS,
    StatusUpdate,
    Webhook,
    WebhookEvent,
    WebhookRefused,
    WebhookReply,
    WebhookRequest,
)
from bot.validation import InvalidInput, check_text, parse_digits, parse_form

log = logging.getLogger(__name__)

FORM_TYPES = ("application/x-www-form-urlencoded",)
INBOUND_PATH, STATUS_PATH = "/sms/twilio/inbound", "/sms/twilio/status"
CALLBACK_MESSAGE_PARAM = "m"  # the status callback URL's query parameter naming the bridge's message id
MAX_NUM_MEDIA = 10  # Twilio's limit of attachments per message
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def read_webhook(
    signature_ok: Callable[[str, Mapping[str, str], str | None], bool], request: WebhookRequest
) -> Webhook:
    """The webhook's one event, once `X-Twilio-Signature` proves Twilio sent it."""
    if request.content_type not in FORM_TYPES:
        raise WebhookRefused(415, f"expected {FORM_TYPES[0]}, got {request.content_type or 'nothing'}")
    try:
        form = parse_form(request.body)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None
    signature = request.headers.get("X-Twilio-Signature")
    if not signature:
        raise WebhookRefused(401, "missing X-Twilio-Signature")
    if not signature_ok(request.url, form, signature):
        log.warning("twilio webhook %s: bad signature", request.path)
        raise WebhookRefused(403, "X-Twilio-Signature does not match")
    # NUL cannot be stored as text (PostgreSQL refuses it) and carries no meaning in an SMS.
    form = {key: value.replace("\x00", "") for key, value in form.items()}
    if request.path == INBOUND_PATH:
        try:
            message = parse_inbound(form)
            check_text(message.carrier_sid, "MessageSid", limit=limits.MESSAGE_SID)
            check_text(message.from_.strip(), "From", limit=limits.PHONE)
            check_text(message.to, "To", limit=limits.LINE_KEY)
            if message.messaging_service is not None:
                check_text(message.messaging_service, "MessagingServiceSid", limit=limits.LINE_KEY)
        except ValueError as exc:  # InvalidInput too
            raise ValueError(f"inbound webhook: {exc}") from None
        reply = WebhookReply(200, EMPTY_TWIML, "text/xml")
        return Webhook((WebhookEvent(inbound=message, event_id=message.carrier_sid),), reply)
    try:
        update = parse_status(form)
        check_text(update.carrier_sid, "MessageSid", limit=limits.STATUS_SID)
        check_text(update.status, "MessageStatus", limit=limits.STATUS)
        if form.get("ErrorCode"):
            parse_digits(form["ErrorCode"], "ErrorCode", maximum=limits.ERROR_CODE_MAX)
        message_id = parse_callback_message_id(request.query, maximum=limits.MESSAGE_ID_MAX)
    except ValueError as exc:  # InvalidInput too
        raise ValueError(f"status callback: {exc}") from None
    return Webhook((WebhookEvent(status=update, message_id=message_id),), WebhookReply(204))


def parse_inbound(form: Mapping[str, str]) -> InboundSMS:
    """Read Twilio's inbound message webhook fields; raise ValueError naming a missing field."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    for name, value in (("MessageSid", sid), ("From", form.get("From")), ("To", form.get("To"))):
        if not value:
            raise ValueError(f"missing field {name}")
    count = parse_digits(form.get("NumMedia") or "0", "NumMedia", maximum=MAX_NUM_MEDIA)
    media = tuple(
        (form[f"MediaUrl{i}"], form.get(f"MediaContentType{i}", "application/octet-stream"))
        for i in range(count)
        if form.get(f"MediaUrl{i}")
    )
    return InboundSMS(
        carrier_sid=sid,
        from_=form["From"],
        to=form["To"],
        body=form.get("Body", ""),
        media=media,
        messaging_service=form.get("MessagingServiceSid") or None,
    )


def parse_status(form: Mapping[str, str]) -> StatusUpdate:
    """Read Twilio's status callback fields; raise ValueError naming a missing field."""
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = form.get("MessageStatus") or form.get("SmsStatus")
    if not sid:
        raise ValueError("missing field MessageSid")
    if not status:
        raise ValueError("missing field MessageStatus")
    return StatusUpdate(carrier_sid=sid, status=status.lower(), error_code=_int_or_none(form.get("ErrorCode")))


def parse_callback_message_id(query: Mapping[str, str], *, maximum: int) -> int | None:
    """The bridge's message id the status callback URL carries (`?m=<id>`, see `status_callback_url`), if any;
    InvalidInput (a ValueError) when it is not an id of at most `maximum`."""
    value = query.get(CALLBACK_MESSAGE_PARAM)
    if value is None:
        return None
    return parse_digits(value, CALLBACK_MESSAGE_PARAM, maximum=maximum)


def status_callback_url(base: str, message_id: int) -> str:
    """The status callback URL for one message: `base` with the bridge's message id, so that a receipt names the
    message even when Twilio's answer to the send (with its MessageSid) was lost."""
    return f"{base}{'&' if '?' in base else '?'}{CALLBACK_MESSAGE_PARAM}={message_id}"


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
