"""How texts sent through the API are shown in the customer's Slack thread."""

from __future__ import annotations

from datetime import datetime

from bot.slack.format import escape


def sent_by_api(key_name: str, text: str, *, category: str, send_at: datetime | None) -> str:
    when = f", scheduled for {send_at:%Y-%m-%d %H:%M} UTC" if send_at else ""
    kind = " (marketing)" if category == "marketing" else ""
    return f":satellite_antenna: *{escape(key_name)}* via the API{kind}{when}: {escape(text)}"


def code_sent(key_name: str) -> str:
    return f":key: *{escape(key_name)}* via the API: a one-time code was texted (the code is not shown)"


def canceled(key_name: str) -> str:
    return f":no_entry_sign: *{escape(key_name)}* canceled the scheduled text above before it was sent"
