"""Campaign text: `{field|fallback}` personalisation, tracked links, the footer, and `key=value` parsing."""

from __future__ import annotations

import re
import secrets

from bot.compliance.footer import with_footer

FIELDS = ("first_name", "last_name", "name", "phone")
_PLACEHOLDER = re.compile(r"\{\s*([a-z_]+)\s*(?:\|([^{}]*))?\}")
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
CODE_BYTES = 6  # token_urlsafe(6): 8 characters, 2**48 codes


def placeholders(template: str) -> list[str]:
    return [m.group(1) for m in _PLACEHOLDER.finditer(template)]


def unknown_fields(template: str) -> list[str]:
    return sorted({name for name in placeholders(template) if name not in FIELDS})


def render(template: str, fields: dict[str, str]) -> str:
    """Fill `{first_name}` / `{first_name|there}` from `fields` (empty values take the fallback)."""

    def fill(match: re.Match) -> str:
        value = (fields.get(match.group(1)) or "").strip()
        return value or (match.group(2) or "").strip()

    return _PLACEHOLDER.sub(fill, template)


def links(text: str) -> list[str]:
    return _URL.findall(text)


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def rewrite_links(text: str, public_url: str, make_code) -> str:
    """Replace each http(s) URL by PUBLIC_URL/l/{code}; `make_code(url)` returns the code for that URL."""
    base = public_url.rstrip("/")
    return _URL.sub(lambda m: f"{base}/l/{make_code(m.group(0))}", text)


def finish(text: str, purpose: str, footer: str) -> str:
    """Marketing texts carry the opt-out footer unless they already say how to stop."""
    return with_footer(text, footer) if purpose == "marketing" else text


def contact_fields(contact) -> dict[str, str]:
    first, last = (contact.first_name or "").strip(), (contact.last_name or "").strip()
    return {"first_name": first, "last_name": last, "name": f"{first} {last}".strip(), "phone": contact.phone}


# -- `/sms campaign create key=value ...` ---------------------------------------------------------

_KEY = re.compile(r"\s*([a-z_]+)=")
_QUOTES = {'"': '"', "\u201c": "\u201d", "\u201d": "\u201d", "'": "'"}
_SLACK_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|[^>]*)?>")


class ArgumentError(ValueError):
    pass


def parse_kv(text: str, *, rest_of_line: tuple[str, ...] = ("text",)) -> dict[str, str]:
    """`name="Spring sale" to=tag:vip at=now text=Hi {first_name|there}!` -> dict.

    A value may be quoted ("..." or “...”); an unquoted `text=` runs to the end of the command,
    so it is normally written last. Slack's `<url|label>` link markup is turned back into the URL.
    """
    text = _SLACK_LINK.sub(lambda m: m.group(1), text or "")
    result: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _KEY.match(text, pos)
        if not match:
            word = text[pos:].strip().split()[0]
            raise ArgumentError(f"expected key=value, got {word!r}")
        key = match.group(1)
        pos = match.end()
        opener = text[pos : pos + 1]
        if opener in _QUOTES:
            close = text.find(_QUOTES[opener], pos + 1)
            if opener == "\u201c" and close < 0:
                close = text.find('"', pos + 1)
            if close < 0:
                raise ArgumentError(f"{key}=: the quote is never closed")
            value, pos = text[pos + 1 : close], close + 1
        elif key in rest_of_line:
            value, pos = text[pos:].strip(), len(text)
        else:
            end = pos
            while end < len(text) and not text[end].isspace():
                end += 1
            value, pos = text[pos:end], end
        if key in result:
            raise ArgumentError(f"{key}= is given twice")
        result[key] = value
    return result


def missing_fields(template: str, fields: dict[str, str]) -> list[str]:
    """Placeholders that neither `fields` fills (with a non-empty value) nor a `|fallback` covers, each once."""
    missing: list[str] = []
    for match in _PLACEHOLDER.finditer(template):
        name, fallback = match.group(1), match.group(2)
        if not (fields.get(name) or "").strip() and fallback is None and name not in missing:
            missing.append(name)
    return missing
