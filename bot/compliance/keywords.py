"""Compliance keywords in inbound SMS: opt-out, opt-in and help (CTIA / TCPA).

Two questions are answered here:

``classify(body)``
    Is the *whole* message one of the standard keywords?  This is what the bridge acts
    on automatically (stop sending, resume, send the help text).  Matching is exact on
    the word after light normalisation:

    * Unicode NFKC (fullwidth ``ＳＴＯＰ`` reads as ``STOP``) and case-insensitive;
    * leading and trailing whitespace (spaces, newlines, NBSP), Unicode punctuation
      (``. ! ? , " ' ( ) …``) and invisible format characters (zero-width space, BOM)
      are trimmed, repeatedly, so ``"stop."``, ``" Stop\\n"`` and ``'"STOP!!"'`` count;
    * three opt-out words are also accepted as their natural two-word spellings joined
      by spaces, hyphens or underscores: ``"opt out"``/``"Opt-Out"``, ``"stop all"``,
      ``"un-subscribe"`` (the FCC's own list of revocation words spells it "opt out").
      This applies to opt-out words only: resuming messages (START) must be
      unambiguous, while an unhonoured opt-out is the costly mistake.
    * anything else in the message (``"stop please"``, ``"STOP 🛑"``) means it is not a
      keyword, and ``None`` is returned.

``looks_like_opt_out_request(body)``
    Does a message that is *not* a keyword still ask to stop messages?  Under the FCC's
    2024 consent-revocation rule a request "by any reasonable means" must be honoured,
    so these are flagged for a person to confirm.  See that function for the approach.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable

__all__ = [
    "HELP_WORDS",
    "Keyword",
    "OPT_IN_WORDS",
    "OPT_OUT_WORDS",
    "YES_WORDS",
    "classify",
    "is_stop_all",
    "looks_like_opt_out_request",
]


class Keyword(enum.Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    YES = "yes"  # a keyword only while the number is opted out (then START) or has a double opt-in pending
    JOIN = "join"  # one of the line's join_keywords: a marketing opt-in (after YES on a double opt-in line)


OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
YES_WORDS = frozenset({"YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})

_SEPARATORS = re.compile(r"[\s\-_]+")
_SPLIT_OPT_OUT = frozenset({("OPT", "OUT"), ("STOP", "ALL"), ("UN", "SUBSCRIBE")})


def _is_trimmable(ch: str) -> bool:
    category = unicodedata.category(ch)
    return ch.isspace() or category[0] == "P" or category in ("Cf", "Cc")


def _core(body: str) -> str:
    """NFKC-normalise, trim whitespace/punctuation/invisible characters at both ends, upper-case."""
    text = unicodedata.normalize("NFKC", body or "")
    start, end = 0, len(text)
    while start < end and _is_trimmable(text[start]):
        start += 1
    while end > start and _is_trimmable(text[end - 1]):
        end -= 1
    return text[start:end].upper()


def classify(body: str, join_keywords: Iterable[str] = ()) -> Keyword | None:
    """Return the keyword the whole message is, or ``None`` (see the module docstring).

    ``join_keywords`` are the line's own (upper case, words separated by one space). ``Keyword.YES`` is returned
    for a bare YES: whether it means anything depends on the number's state, which the caller knows.
    """
    core = _core(body)
    if core in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if core in OPT_IN_WORDS:
        return Keyword.OPT_IN
    if core in HELP_WORDS:
        return Keyword.HELP
    if core in YES_WORDS:
        return Keyword.YES
    if tuple(_SEPARATORS.split(core)) in _SPLIT_OPT_OUT:
        return Keyword.OPT_OUT
    if " ".join(core.split()) in set(join_keywords):
        return Keyword.JOIN
    return None


def is_stop_all(body: str) -> bool:
    """Whether the message is STOPALL (or "stop all"): an opt-out of every line, not only the one texted."""
    return _SEPARATORS.sub("", _core(body)) == "STOPALL"


# --- natural-language opt-out requests -------------------------------------------------

# Words that ask to stop on their own; "stop please", "stop it now" are opt-outs.
_STRONG = frozenset({"stop", "stopall", "unsubscribe", "unsub", "optout", "revoke"})
# Words that are opt-out keywords but also everyday verbs ("cancel my appointment",
# "the end"): only flagged when accompanied by nothing but politeness.
_WEAK = frozenset({"cancel", "end", "quit"})
_POLITE = frozenset(
    {
        "please",
        "pls",
        "plz",
        "plse",
        "pleas",
        "now",
        "thanks",
        "thank",
        "you",
        "thx",
        "ty",
        "asap",
        "immediately",
        "all",
        "already",
        "ok",
        "okay",
        "yes",
        "again",
    }
)
# Extra words allowed around a strong word: "stop it", "stop all texts", "stop them now".
_FILLER = _POLITE | frozenset(
    {
        "it",
        "me",
        "us",
        "just",
        "the",
        "this",
        "these",
        "that",
        "those",
        "them",
        "my",
        "your",
        "sms",
        "text",
        "texts",
        "txt",
        "txts",
        "message",
        "messages",
        "msg",
        "msgs",
        "number",
        "right",
        "away",
        "seriously",
        "i",
        "said",
        "for",
        "good",
        "forever",
        "opt",
        "out",
        "subscription",
        "subscriptions",
        "alerts",
        "notifications",
        "spam",
    }
)

_MSGS = r"(?:texts?|txts?|messages?|msgs?|sms(?:es)?|spam|ads|promos?|promotions?|marketing|alerts|notifications)"
_ME = r"(?:me|us|this\s+number|my\s+(?:phone\s+|cell\s+|mobile\s+)?number)"
_NEG = r"(?:don'?t|do\s+not|never|no\s+longer)"

_PATTERNS = tuple(
    re.compile(p)
    for p in (
        # "please stop texting me", "quit messaging", "stop contacting me"
        r"\b(?:stop|quit|cease|discontinue|end)\s+(?:txting|texting|messaging|msging|spamming|contacting|bothering|smsing|sms-ing)\b",
        # "stop sending me texts", "don't send me any more messages"
        r"\b(?:stop|quit|cease|" + _NEG + r")\s+send(?:ing)?\s+(?:" + _ME + r"\s+)?"
        r"(?:(?:any\s*more|anymore|any|these|those|the|your|all|of|this|more)\s+)*" + _MSGS + r"\b",
        # "don't text me anymore", "never message me again", "do not contact this number"
        r"\b" + _NEG + r"\s+(?:text|txt|message|msg|sms|contact|spam)\s+" + _ME + r"\b",
        # "unsubscribe me", "how do I unsubscribe", "opt me out", "opt-out please"
        r"\bunsubscribe\b",
        r"\bunsub\b",
        r"\bopt(?:\s+|-|_)?out\b",
        r"\bopt\s+" + _ME + r"\s+out\b",
        r"\bstopall\b",
        # "remove me from your list", "delete my number"
        r"\b(?:remove|delete|erase|unenroll|unregister)\s+" + _ME + r"\b",
        # "take me off", "get me off your list", "take my number off"
        r"\b(?:take|get|drop|cross|scratch|put)\s+" + _ME + r"\s+(?:off|out\s+of)\b",
        # "no more texts", "no more messages please"
        r"\bno\s+more\s+(?:(?:of\s+)?(?:these|this|those|your|the)\s+)?" + _MSGS + r"\b",
        # "I don't want these texts", "do not want to receive messages"
        r"\b"
        + _NEG
        + r"\s+want\s+"
        + r"(?:(?:to|receive|get|getting|receiving|any|anymore|any\s*more|more|these|those|your|the|this|of)\s+)*"
        + _MSGS
        + r"\b",
        # "stop the texts", "cancel my subscription", "end these alerts"
        r"\b(?:stop|end|cancel|quit)\s+(?:(?:all|the|these|those|your|this|my|of)\s+)*(?:"
        + _MSGS
        + r"|subscriptions?)\b",
        # "leave me alone"
        r"\bleave\s+(?:me|us)\s+alone\b",
        # "wrong number", "you have the wrong number": the number's owner never agreed to these texts
        r"\bwrong\s+(?:number|person|phone)\b",
        # "who is this? remove" is caught above; "I never signed up", "never subscribed"
        r"\bnever\s+(?:signed\s+up|subscribed|opted\s+in|agreed)\b",
    )
)

# A standalone STOP/UNSUBSCRIBE written in capitals inside a longer, mixed-case message
# ("Who is this? STOP") is a keyword the sender meant, unless negated ("don't STOP") or
# part of a compound noun ("bus STOP", "full STOP", "pit STOP").
_CAPS_KEYWORD = re.compile(r"(?<![A-Za-z'’])(STOP|STOPALL|UNSUBSCRIBE|OPTOUT)(?![A-Za-z'’])")
_NOT_A_REQUEST_BEFORE = re.compile(
    r"(?:\b(?:don'?t|do\s+not|not|never|can'?t|cannot|won'?t|didn'?t|bus|full|pit)\s*)$", re.IGNORECASE
)
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _normalise(body: str) -> str:
    text = unicodedata.normalize("NFKC", body or "")
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    return re.sub(r"\s+", " ", text).strip()


def looks_like_opt_out_request(body: str) -> bool:
    """True for a message that asks to stop messages without being an exact keyword.

    Approach (tuned for few false positives; a hit holds marketing and is raised for a person to decide):

    1. Exact keywords (anything :func:`classify` recognises, of any kind) are ``False``:
       they are handled automatically.
    2. Keyword plus filler: every word of the message is an opt-out word or filler such as
       "please", "now", "it", "me", "texts" ("stop please", "STOP STOP", "stop it now").
       CANCEL, END and QUIT are everyday verbs, so for them only politeness words count
       ("cancel please" yes, "the end" and "cancel it" no).
    3. Phrase patterns, each requiring an object that means *messages to me*:
       "stop/quit texting|messaging|contacting", "stop sending me texts",
       "don't text|message|contact me", "unsubscribe", "opt out", "opt me out",
       "remove me", "take/get me off", "no more texts", "don't want these messages",
       "stop/cancel the texts|my subscription", "leave me alone".  Verbs alone never
       match, so "can you stop by tomorrow?" and "cancel my appointment" are ``False``.
    4. A capitalised STOP/UNSUBSCRIBE as its own word in an otherwise mixed-case message
       ("Who is this? STOP"), unless preceded by a negation ("don't STOP").

    5. "wrong number" and "I never signed up": whoever has the number did not agree to the texts.

    Deliberately not flagged: "not interested", "who is this" — they may warrant follow-up but are not
    requests to stop. A hit holds marketing at once and becomes an opt-out unless a person says otherwise
    (see docs/compliance.md), so everyday uses of CANCEL, END and QUIT are left alone.
    """
    if not body or classify(body) is not None:
        return False
    text = _normalise(body)
    lowered = text.casefold()

    tokens = _TOKEN.findall(lowered)
    if tokens:
        words = set(tokens)
        if words & _STRONG and words <= (_STRONG | _WEAK | _FILLER):
            return True
        if words & _WEAK and words <= (_WEAK | _POLITE):
            return True
        if {"opt", "out"} <= words and words <= (_STRONG | _FILLER):
            return True

    if any(p.search(lowered) for p in _PATTERNS):
        return True

    if text != text.upper():
        for match in _CAPS_KEYWORD.finditer(text):
            if not _NOT_A_REQUEST_BEFORE.search(text[: match.start()]):
                return True
    return False
