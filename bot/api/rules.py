"""The HTTP API's rules, with no database: reading a request into what to do, the states a caller sees, how
callbacks are signed and which callback addresses are refused."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from bot.campaigns.template import missing_fields, render
from bot.compliance.segments import analyze
from bot.lines import KnownLine, LineDirectory
from bot.phone import InvalidPhoneNumber, parse_e164
from bot.settings import Settings
from bot.validation import InvalidInput, check_text
from storage.states import MessageStatus

MAX_TEXT = 1600  # characters: the longest body a carrier takes in one send
MAX_SCHEDULE = timedelta(days=35)
PAST_TOLERANCE = timedelta(seconds=5)  # a send_at this little in the past is "now" (clocks differ)
MAX_METADATA_BYTES = 4096
MAX_VARIABLES = 50
MAX_URL = 2000
MAX_IDEMPOTENCY_KEY = 150
CATEGORIES = ("transactional", "marketing")
MESSAGE_FIELDS = {"to", "line", "text", "template", "variables", "category", "send_at", "status_callback", "metadata"}
VERIFICATION_FIELDS = {"to", "line"}
CHECK_FIELDS = {"to", "code"}
CODE_LENGTH = 6
CODE_LIFETIME = timedelta(minutes=10)
MAX_CHECKS = 5
CODES_PER_HOUR = 5
SIGNATURE_HEADER = "X-SMS-Bridge-Signature"
_CODE = re.compile(r"[0-9]{6}")
MESSAGE_ID = re.compile(r"msg_[0-9a-f]{24}")


class ApiError(Exception):
    """A request refused: HTTP status, a stable code, and a message naming the field at fault."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


def invalid(code: str, field_name: str, problem: str) -> ApiError:
    return ApiError(422, code, f"{field_name}: {problem}")


@dataclass(frozen=True)
class MessageRequest:
    """A checked `POST /api/v1/messages` body."""

    to: str
    line: KnownLine
    text: str
    category: str
    template: str | None
    send_at: datetime | None  # None: now
    status_callback: str | None
    metadata: dict = field(default_factory=dict)


def request_hash(body: Any) -> str:
    """What two requests under one Idempotency-Key are compared by: the body's JSON, canonically written."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_idempotency_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not raw.strip() or len(raw) > MAX_IDEMPOTENCY_KEY or not raw.isprintable():
        raise ApiError(
            400, "invalid_idempotency_key", f"Idempotency-Key: must be 1-{MAX_IDEMPOTENCY_KEY} printable characters"
        )
    return raw


def _object(body: Any, allowed: set[str], example: str) -> dict:
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_body", f"body: must be a JSON object like {example}")
    extra = sorted(set(body) - allowed)
    if extra:
        raise invalid("unknown_field", extra[0], f"unknown field (allowed: {', '.join(sorted(allowed))})")
    return body


def _string(body: dict, name: str, *, required: bool = False, limit: int | None = None) -> str | None:
    if name not in body or body[name] is None:
        if required:
            raise invalid("missing_field", name, "is required")
        return None
    try:
        return check_text(body[name], name, limit=limit)
    except InvalidInput as exc:
        raise invalid("invalid_field", name, exc.problem) from None


def phone_field(body: dict, name: str = "to") -> str:
    raw = _string(body, name, required=True, limit=64)
    assert raw is not None
    try:
        return parse_e164(raw)
    except InvalidPhoneNumber as exc:
        raise invalid("invalid_number", name, f"{exc}; write it in E.164 like +14155551234") from None


def line_field(body: dict, lines: LineDirectory, settings: Settings) -> KnownLine:
    raw = _string(body, "line", limit=64)
    if raw is None:
        first = lines.by_key(settings.lines[0].key) if settings.lines else None
        if first is None:
            raise ApiError(422, "unknown_line", "line: no line is configured")
        return first  # the first line of the configuration file
    key = raw.strip()
    try:
        key = parse_e164(key)
    except InvalidPhoneNumber:
        pass  # a Messaging Service SID is looked up as written
    line = lines.by_key(key)
    if line is None:
        known = ", ".join(line.config.key for line in lines.all())
        raise invalid("unknown_line", "line", f"{raw[:40]!r} is not a configured line (lines: {known})")
    return line


def check_sms_text(text: str, name: str) -> str:
    if not text.strip():
        raise invalid("invalid_field", name, "is empty")
    if len(text) > MAX_TEXT or analyze(text).too_long:
        raise invalid("text_too_long", name, f"is {len(text)} characters; at most {MAX_TEXT}")
    return text


def _variables(body: dict) -> dict[str, str]:
    raw = body.get("variables", {})
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise invalid("invalid_variables", "variables", "must be an object of name: value")
    if len(raw) > MAX_VARIABLES:
        raise invalid("invalid_variables", "variables", f"has {len(raw)} entries; at most {MAX_VARIABLES}")
    values = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise invalid("invalid_variables", f"variables.{name[:40]}", "must be a string or a number")
        values[name] = check_text(str(value), f"variables.{name[:40]}", limit=MAX_TEXT)
    return values


def message_text(body: dict, settings: Settings) -> tuple[str, str | None]:
    """The text to send and the template it came from, if any."""
    text = _string(body, "text", limit=MAX_TEXT + 1)
    template = _string(body, "template", limit=64)
    if text is not None and template is not None:
        raise ApiError(422, "invalid_body", "text: give either text or template, not both")
    if text is None and template is None:
        raise invalid("missing_field", "text", "is required (or template with variables)")
    if text is not None:
        if "variables" in body:
            raise invalid("invalid_field", "variables", "only goes with template")
        return check_sms_text(text, "text"), None
    assert template is not None
    source = settings.templates.get(template)
    if source is None:
        known = ", ".join(sorted(settings.templates)) or "none are configured under [templates]"
        raise invalid("unknown_template", "template", f"{template[:64]!r} is not a template ({known})")
    variables = _variables(body)
    missing = missing_fields(source, variables)
    if missing:
        raise invalid(
            "missing_variable", f"variables.{missing[0]}", f"template {template!r} needs it and it has no fallback"
        )
    return check_sms_text(render(source, variables), "template"), template


def send_at_field(body: dict, now: datetime) -> datetime | None:
    raw = _string(body, "send_at", limit=64)
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise invalid("invalid_send_at", "send_at", f"{raw[:40]!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise invalid("invalid_send_at", "send_at", f"{raw[:40]!r} has no UTC offset (add Z or +02:00)")
    if when < now - PAST_TOLERANCE:
        raise invalid("send_at_in_past", "send_at", f"{raw[:40]!r} is in the past")
    if when > now + MAX_SCHEDULE:
        raise invalid("send_at_too_far", "send_at", f"{raw[:40]!r} is more than 35 days ahead")
    return when if when > now else None


def metadata_field(body: dict) -> dict:
    raw = body.get("metadata", {})
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise invalid("invalid_metadata", "metadata", "must be an object")
    size = len(json.dumps(raw, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        raise invalid("invalid_metadata", "metadata", f"is {size} bytes as JSON; at most {MAX_METADATA_BYTES}")
    return raw


def callback_field(body: dict) -> str | None:
    """The status_callback URL, if given, checked for its form (its addresses are checked by `check_callback_host`)."""
    raw = _string(body, "status_callback", limit=MAX_URL)
    if raw is None:
        return None
    try:
        parts = urlsplit(raw.strip())
    except ValueError:
        raise invalid("invalid_callback", "status_callback", f"{raw[:60]!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("invalid_callback", "status_callback", f"{raw[:60]!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise invalid("invalid_callback", "status_callback", "must not carry a user name or password")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise invalid("invalid_callback", "status_callback", f"{raw[:60]!r} has a bad port") from None
    return raw.strip()


def read_message_request(body: Any, settings: Settings, lines: LineDirectory, now: datetime) -> MessageRequest:
    body = _object(body, MESSAGE_FIELDS, '{"to": "+14155551234", "text": "..."}')
    to = phone_field(body)
    line = line_field(body, lines, settings)
    text, template = message_text(body, settings)
    category = _string(body, "category", limit=32) or "transactional"
    if category not in CATEGORIES:
        raise invalid("invalid_category", "category", f"{category[:32]!r} must be transactional or marketing")
    if category == "marketing" and not line.config.sends_campaigns:
        raise invalid(
            "line_not_a2p", "line", f"{line.config.key} is a {line.config.kind} line; marketing goes out on a2p/both"
        )
    return MessageRequest(
        to=to,
        line=line,
        text=text,
        category=category,
        template=template,
        send_at=send_at_field(body, now),
        status_callback=callback_field(body),
        metadata=metadata_field(body),
    )


def read_verification_request(body: Any, settings: Settings, lines: LineDirectory) -> tuple[str, KnownLine]:
    body = _object(body, VERIFICATION_FIELDS, '{"to": "+14155551234"}')
    return phone_field(body), line_field(body, lines, settings)


def read_check_request(body: Any) -> tuple[str, str]:
    body = _object(body, CHECK_FIELDS, '{"to": "+14155551234", "code": "123456"}')
    to = phone_field(body)
    code = _string(body, "code", required=True, limit=16)
    assert code is not None
    if not _CODE.fullmatch(code.strip()):
        raise invalid("invalid_code", "code", f"must be {CODE_LENGTH} digits")
    return to, code.strip()


# -- what a caller sees -------------------------------------------------------------------------------


def api_status(status: MessageStatus | str, send_at: datetime | None, now: datetime) -> str:
    """The message's status as the API names it."""
    if status in (MessageStatus.QUEUED, MessageStatus.HELD):
        return "scheduled" if send_at is not None and send_at > now else "queued"
    if status in (MessageStatus.SENDING, MessageStatus.ACCEPTED):
        return "sending"
    if status == MessageStatus.BLOCKED:
        return "failed"
    if status == MessageStatus.CANCELLED:
        return "canceled"
    return str(status)


def api_error(status: MessageStatus | str, error_code: int | None, error_message: str | None) -> dict | None:
    if status == MessageStatus.BLOCKED:
        reason = error_message or "refused by the send gate"
        return {"code": "opted_out" if "opted out" in reason else "blocked", "message": reason}
    if status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        return {
            "code": str(error_code) if error_code is not None else "carrier_error",
            "message": error_message or "the carrier did not deliver it",
        }
    return None


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def encode_body(document: dict) -> str:
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def sign(secret: str, raw: bytes) -> str:
    """The X-SMS-Bridge-Signature value: sha256=<hex HMAC-SHA256 of the raw body with the key's secret>."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


# -- callback addresses -------------------------------------------------------------------------------


def refused_address(address: str) -> bool:
    """Whether a callback may not go to this IP: loopback, private, link-local, or anything else not public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (through the loop's resolver: no blocking call)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check_callback_host(url: str, *, allow_private: bool) -> None:
    """Refuse (422) a callback URL whose host resolves to an address that is not public, unless allowed."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = await resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError):
        raise invalid("invalid_callback", "status_callback", f"the host {host[:60]!r} does not resolve") from None
    bad = [address for address in addresses if refused_address(address)]
    if bad or not addresses:
        raise invalid(
            "callback_not_allowed",
            "status_callback",
            f"the host {host[:60]!r} resolves to {bad[0] if bad else 'nothing'}, a loopback, private or link-local "
            "address; callbacks go to public addresses only",
        )
