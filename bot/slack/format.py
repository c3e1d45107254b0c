"""Small text helpers for Slack's mrkdwn."""

from __future__ import annotations

from datetime import datetime

import phonenumbers


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def pretty_phone(e164: str) -> str:
    """+14155550100 -> +1 415-555-0100 (international format); unparseable text is returned as is."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def slack_date(when: datetime) -> str:
    """A timestamp every reader sees in their own time zone."""
    epoch = int(when.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{when:%Y-%m-%d %H:%M} UTC>"
