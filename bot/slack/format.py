"""Small text helpers for Slack's mrkdwn."""

from __future__ import annotations

import re
from datetime import datetime

import phonenumbers


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


SECTION_LIMIT = 2900  # characters of one section block's text (Slack allows 3,000)
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")  # the start of &amp; &lt; &gt;, at the end of a piece


def section_pieces(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """`text` cut into pieces of at most `limit` characters, one per section block, nothing dropped: at a line
    break or a space in the second half of a piece when there is one, never inside an escaped character."""
    pieces = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        if cut > limit // 2:
            pieces.append(text[:cut])
            text = text[cut + 1 :]
            continue
        entity = _ENTITY_TAIL.search(text, 0, limit)
        cut = entity.start() if entity and entity.start() > 0 else limit
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text]


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


_LINK = re.compile(r"<((?:https?|mailto|tel):[^|>]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")


def to_plain_text(text: str) -> str:
    """What a person typed in Slack, as the customer should read it: links and entities undone."""
    text = _LINK.sub(
        lambda m: (
            m.group(1).removeprefix("mailto:").removeprefix("tel:")
            if not m.group(2) or m.group(2) == m.group(1) or m.group(1).endswith(m.group(2))
            else f"{m.group(2)} ({m.group(1)})"
        ),
        text,
    )
    text = _SPECIAL.sub(lambda m: "@" + m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("\x00", "")
