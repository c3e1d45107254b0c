"""The opt-out footer for marketing (A2P) messages.

CTIA's messaging principles expect recurring marketing messages to tell the recipient how
to opt out.  :func:`with_footer` appends ``"Reply STOP to opt out"`` unless the text
already gives such an instruction.

:func:`tells_how_to_stop` errs on the side of *not* recognising an instruction (a missing
footer is the compliance risk; a duplicated one only costs characters).  It recognises:

* a reply instruction naming an opt-out keyword: "Reply STOP to unsubscribe",
  "Txt STOP to end", "opt-out: reply stop", "text 'END'", "send QUIT";
* an opt-out keyword followed by what it does: "stop to opt out", "Unsubscribe to be
  removed"; for plainer actions the keyword must be written as one (capitals, quotes,
  or "2"): "STOP to end", "'stop' to cancel", "Stop2End" — but not "we stop to end".

Keywords are the ones :mod:`bot.compliance.keywords` honours (STOP, STOPALL, UNSUBSCRIBE,
CANCEL, END, QUIT, REVOKE, OPTOUT, and "opt out").  A bare mention such as "we'll stop
sending soon" or an unsubscribe *link* alone does not count: a texting recipient must
be told which word to reply.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["FOOTER", "tells_how_to_stop", "with_footer"]

FOOTER = "Reply STOP to opt out"

_KEYWORD = r"(?:stopall|stop|unsubscribe|cancel|end|quit|revoke|opt[\s\-_]?out)"
_QUOTE = r"[\"'*]?"
# After the keyword: end of text, punctuation, or a word that continues an instruction.
_AFTER = r"(?=\s*(?:$|[.,;:!?)\]/|&]|\s(?:to|2|for|or|and|at|anytime|any\s+time|if|now)\b|2))"

_REPLY_INSTRUCTION = re.compile(
    r"\b(?:reply|replying|respond|text|txt|send|msg|sms|type)\b"
    r"(?:\s*[:\-]\s*|\s+)(?:with\s+|back\s+)?" + _QUOTE + r"\s*" + _KEYWORD + _QUOTE + _AFTER
)
# "STOP to opt out", "unsubscribe to be removed": the action itself means opting out.
_KEYWORD_TO_OPT_OUT = re.compile(
    r"(?<![a-z])" + _QUOTE + _KEYWORD + _QUOTE + r"\s*(?:to|2)\s*(?:opt[\s\-_]?out|unsubscribe|unsub|be\s+removed)\b"
)
# "STOP to end", "Stop2End", "'stop' to cancel": with a plainer action ("we stop to end
# the day") the keyword must look like one: capitals, quoted, or glued to "2".
_KEYWORD_TO_ACTION = re.compile(
    r"(?<![A-Za-z])(?:(?:STOPALL|STOP|UNSUBSCRIBE|CANCEL|END|QUIT|REVOKE|OPTOUT)\s*(?:to|TO|To)"
    r"|[\"'*](?i:stopall|stop|unsubscribe|cancel|end|quit|revoke|optout)[\"'*]\s*(?i:to)"
    r"|(?i:stopall|stop|unsubscribe|cancel|end|quit|revoke|optout)2)"
    r"\s*(?i:cancel|end|stop|quit)\b"
)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    for fancy, plain in (("\u201c", '"'), ("\u201d", '"'), ("\u2018", "'"), ("\u2019", "'")):
        text = text.replace(fancy, plain)
    return text


def tells_how_to_stop(text: str) -> bool:
    """True when `text` already tells the recipient how to opt out (see the module docstring)."""
    plain = _normalise(text)
    lowered = plain.casefold()
    return bool(
        _REPLY_INSTRUCTION.search(lowered) or _KEYWORD_TO_OPT_OUT.search(lowered) or _KEYWORD_TO_ACTION.search(plain)
    )


def with_footer(text: str, footer: str = FOOTER) -> str:
    """Return `text` with ``"\\n" + footer`` appended, unless it already explains opting out.

    Trailing whitespace of `text` is dropped before the footer so that no blank line (and
    no paid-for character) is wasted; an empty text becomes the footer alone.
    """
    if tells_how_to_stop(text):
        return text
    body = (text or "").rstrip()
    return f"{body}\n{footer}" if body else footer
