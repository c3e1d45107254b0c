"""What an inbound text means for consent: STOP/START/HELP keywords, and opt-out requests in plain words."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent
from bot.compliance.keywords import Keyword, classify, looks_like_opt_out_request
from bot.lines import KnownLine
from bot.phone import is_phone_number

KEYWORD_NAMES = {Keyword.OPT_OUT: "Opt-out", Keyword.OPT_IN: "Opt-in", Keyword.HELP: "Help"}


@dataclass(frozen=True)
class KeywordOutcome:
    keyword: Keyword | None = None
    flagged: bool = False  # reads like an opt-out request but is not a keyword: an agent should decide
    answer: str | None = None  # the confirmation or help text to send in answer (the caller queues it)

    @property
    def note(self) -> str:
        """What the Slack thread says about it."""
        if self.keyword is not None and self.answer is None:
            return (
                f":information_source: *{KEYWORD_NAMES[self.keyword]} keyword* from a sender that is not a phone "
                "number: nothing is sent back to it."
            )
        if self.keyword is Keyword.OPT_OUT:
            return (
                ":octagonal_sign: *Opt-out keyword.* The number is now opted out of this line; a confirmation was sent."
            )
        if self.keyword is Keyword.OPT_IN:
            return (
                ":arrow_forward: *Opt-in keyword.* The number is opted back in to this line; a confirmation was sent."
            )
        if self.keyword is Keyword.HELP:
            return ":information_source: *Help keyword.* The line's help text was sent."
        if self.flagged:
            return ":warning: This reads like a request to stop texting. If it is, opt the number out."
        return ""


def confirmation(line: KnownLine, keyword: Keyword) -> str:
    brand = line.config.brand or "This number"
    if keyword is Keyword.OPT_OUT:
        return f"{brand}: You are unsubscribed and will receive no more messages. Reply START to resubscribe."
    if keyword is Keyword.OPT_IN:
        return f"{brand}: You are resubscribed. Reply HELP for help, STOP to opt out."
    return line.config.help_text or f"{brand}: Reply STOP to opt out."


async def handle_keywords(
    session: AsyncSession, *, line: KnownLine, phone: str, body: str, inbound_sid: str
) -> KeywordOutcome:
    """Apply a keyword's consent change and say what to answer (nothing to a sender that is not a phone number,
    such as an alphanumeric sender id). Idempotent per inbound message."""
    keyword = classify(body)
    if keyword is None:
        return KeywordOutcome(flagged=looks_like_opt_out_request(body))
    if keyword in (Keyword.OPT_OUT, Keyword.OPT_IN):
        await consent.record(
            session,
            phone=phone,
            line_id=line.id,
            source="keyword",
            scope="all",
            action="opt_out" if keyword is Keyword.OPT_OUT else "opt_in",
            evidence=f"texted {body.strip()!r} (message {inbound_sid})",
        )
    if not is_phone_number(phone):
        return KeywordOutcome(keyword=keyword)
    return KeywordOutcome(keyword=keyword, answer=confirmation(line, keyword))
