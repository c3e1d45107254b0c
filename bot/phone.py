"""Phone numbers: parse anything a person types into E.164, and mask numbers for logs."""

from __future__ import annotations

import re

import phonenumbers

DEFAULT_REGION = "US"
# E.164 as written: "+", a country code not starting with 0, at most 15 digits in all (and at least 7).
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


class InvalidPhoneNumber(ValueError):
    """Raised when text cannot be read as a valid phone number; the message quotes the text."""

    def __init__(self, raw: str, reason: str = "is not a valid phone number") -> None:
        self.raw = raw
        super().__init__(f"{raw!r} {reason}")


def parse_e164(raw: str, default_region: str = DEFAULT_REGION) -> str:
    """Return `raw` as an E.164 string (``+14155550100``) or raise :class:`InvalidPhoneNumber`."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber(raw, "is empty, not a phone number")
    if len(text) > 40:
        raise InvalidPhoneNumber(text[:40] + "…", "is too long to be a phone number")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(text) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(text)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_e164(text: str | None) -> bool:
    """Whether `text` is written as an E.164 number. Nothing else is ever texted (see bot.compliance.gate):
    short codes and alphanumeric senders can write to us, but cannot be written to."""
    return text is not None and E164.fullmatch(text) is not None


def is_phone_number(text: str | None) -> bool:
    """Whether `text` is a valid phone number already in E.164 (stricter than :func:`is_e164`)."""
    try:
        return text is not None and is_e164(text) and parse_e164(text) == text
    except InvalidPhoneNumber:
        return False


def mask(number: str | None) -> str:
    """Mask a phone number for logs, keeping the country code and last two digits: ``+1*******00``."""
    if not number:
        return "<none>"
    digits = number.lstrip("+")
    if len(digits) <= 4:
        return "+" + "*" * len(digits)
    keep_head = 1 if digits.startswith("1") else 2
    return "+" + digits[:keep_head] + "*" * (len(digits) - keep_head - 2) + digits[-2:]
