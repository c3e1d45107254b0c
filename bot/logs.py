"""Logging set-up: phone numbers masked and secrets removed from every record, whoever logs it."""

from __future__ import annotations

import logging
import re

from bot.phone import mask

_PHONE = re.compile(r"(?<![\w*])\+\d{8,15}\b")
_SECRETS = re.compile(
    r"(xox[abprs]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+|"
    r"(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?:(?i:basic|bearer)\s+)?[^\s\"',}]+)"
)


def scrub(text: str) -> str:
    """Mask phone numbers and drop tokens from a log line."""
    text = _SECRETS.sub("[redacted]", text)
    return _PHONE.sub(lambda m: mask(m.group(0)), text)


class ScrubbingFilter(logging.Filter):
    """Rewrites each record's final message through `scrub`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubbingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # At DEBUG, aiosqlite logs every statement with its parameters: API key secrets, one-time codes, bodies.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
