"""What an inbound text means for consent: keywords (opt-out, START, YES, join, HELP), and stop requests in words.

Each keyword's consent change is stored in the caller's transaction (which queues its one answer), with the inbound text
as the evidence. What the Slack thread says about it is `KeywordOutcome.note`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent, optout, requests
from bot.compliance.keywords import Keyword, classify, is_stop_all, looks_like_opt_out_request
from bot.lines import KnownLine
from bot.phone import is_phone_number
from storage.models import Message
from storage.states import ConsentRequestStatus

KEYWORD_NAMES = {
    Keyword.OPT_OUT: "Opt-out",
    Keyword.OPT_IN: "Opt-in",
    Keyword.HELP: "Help",
    Keyword.YES: "YES",
    Keyword.JOIN: "Join",
}


@dataclass(frozen=True)
class KeywordOutcome:
    keyword: Keyword | None = None  # None: an ordinary message (a "Yes" to an agent's question is one)
    request_id: int | None = None  # a stop request in plain words was raised: the thread shows its buttons
    note: str = ""  # what the Slack thread says about it
    answer: str | None = None  # the one text to send in answer (a confirmation, the help text): the caller queues it

    @property
    def flagged(self) -> bool:
        return self.request_id is not None


def resubscribed_text(line: KnownLine) -> str:
    brand = line.config.brand or "This number"
    return f"{brand}: You are resubscribed. Reply HELP for help, STOP to opt out."


def join_question(line: KnownLine) -> str:
    brand = line.config.brand or "This number"
    return (
        f"{brand}: Reply YES to confirm you want marketing texts from {brand}. "
        "Msg&data rates may apply. Reply STOP to opt out."
    )


def joined_text(line: KnownLine) -> str:
    brand = line.config.brand or "This number"
    return (
        f"{brand}: You are subscribed to marketing texts. Msg&data rates may apply. "
        "Reply HELP for help, STOP to opt out."
    )


def help_text(line: KnownLine) -> str:
    brand = line.config.brand or "This number"
    return line.config.help_text or f"{brand}: Reply STOP to opt out."


async def handle_keywords(
    session: AsyncSession,
    *,
    line: KnownLine,
    phone: str,
    message: Message,
    conversation_id: int,
    now: datetime,
) -> KeywordOutcome:
    """Apply an inbound text's consent meaning and say its one answer (nothing to a sender that is not a phone
    number, such as an alphanumeric sender id). Runs once per inbound message (the caller dedupes deliveries)."""
    outcome = await _handle(session, line=line, phone=phone, message=message, conversation_id=conversation_id, now=now)
    if outcome.keyword is not None and not is_phone_number(phone):
        return KeywordOutcome(
            outcome.keyword,
            note=f":information_source: *{KEYWORD_NAMES[outcome.keyword]} keyword* from a sender that is not a "
            "phone number: nothing is sent back to it.",
        )
    return outcome


async def _handle(
    session: AsyncSession,
    *,
    line: KnownLine,
    phone: str,
    message: Message,
    conversation_id: int,
    now: datetime,
) -> KeywordOutcome:
    body = message.body or ""
    sid = message.carrier_sid
    quoted = f"texted {body.strip()!r} (message {sid})"
    keyword = classify(body, line.config.join_keywords)
    opted_out_here = await optout.already_opted_out(session, phone, line.id)

    def answer(text: str) -> str | None:
        return text if is_phone_number(phone) else None

    async def record_keyword(action: str, evidence: str) -> None:
        """Record what the keyword did to this line's consent, with the text as evidence."""
        await consent.record(
            session,
            phone=phone,
            line_id=line.id,
            action=action,
            source="keyword",
            scope="all",
            evidence=evidence,
            message_id=message.id,
            at=now,
        )

    if keyword is Keyword.OPT_OUT:
        every_line = is_stop_all(body)
        event = await optout.record_opt_out(
            session,
            phone=phone,
            line_id=None if every_line else line.id,
            source="keyword",
            evidence=quoted,
            now=now,
            message_id=message.id,
        )
        where = "every line" if every_line else "this line"
        if event is None:
            note = (
                f":octagonal_sign: *Opt-out keyword.* The number was already opted out of {where}; "
                "no second confirmation is sent."
            )
            return KeywordOutcome(keyword, note=note)
        note = f":octagonal_sign: *Opt-out keyword.* The number is now opted out of {where}; a confirmation was sent."
        return KeywordOutcome(keyword, note=note, answer=answer(optout.confirmation_text(line, every_line)))

    if keyword is Keyword.HELP:
        return KeywordOutcome(
            keyword,
            note=":information_source: *Help keyword.* The line's help text was sent.",
            answer=answer(help_text(line)),
        )

    joins = await requests.pending(session, requests.JOIN, phone, line.id) if keyword is Keyword.YES else []
    if keyword is Keyword.YES and not joins and not opted_out_here:
        keyword = None  # an ordinary "Yes": it opts nobody in
    if keyword is Keyword.YES and joins:  # the YES a double opt-in waits for (it lifts an opt-out too)
        for join in joins:
            await requests.decide(session, join.id, ConsentRequestStatus.CONFIRMED, by=None, at=now)
        first = await session.get(Message, joins[0].message_id) if joins[0].message_id else None
        asked = f"texted {first.body.strip()!r} (message {first.carrier_sid}), then " if first else ""
        await record_keyword("opt_in", f"double opt-in: {asked}confirmed with {body.strip()!r} (message {sid})")
        return KeywordOutcome(
            keyword,
            note=":white_check_mark: *Double opt-in confirmed.* The number is opted in to marketing on this "
            "line; a confirmation was sent.",
            answer=answer(joined_text(line)),
        )

    if keyword in (Keyword.OPT_IN, Keyword.YES):
        if not opted_out_here:
            return KeywordOutcome(
                keyword, note=":arrow_forward: *Opt-in keyword.* The number is not opted out; nothing changed."
            )
        await record_keyword("lift", f"{quoted}: lifts the opt-out of this line")
        return KeywordOutcome(
            keyword,
            note=":arrow_forward: *Opt-in keyword.* The opt-out of this line is lifted (marketing only with an "
            "opt-in on record); a confirmation was sent.",
            answer=answer(resubscribed_text(line)),
        )

    if keyword is Keyword.JOIN:
        if line.config.double_opt_in:
            if not await requests.pending(session, requests.JOIN, phone, line.id):
                await requests.open_request(
                    session,
                    requests.JOIN,
                    phone=phone,
                    line_id=line.id,
                    conversation_id=conversation_id,
                    message_id=message.id,
                    received_at=now,
                )
            return KeywordOutcome(
                keyword,
                note=":hourglass: *Join keyword.* Marketing opt-in waits for the number to reply YES; "
                "the question was sent.",
                answer=answer(join_question(line)),
            )
        await record_keyword("opt_in", f"join keyword: {quoted}")
        return KeywordOutcome(
            keyword,
            note=":white_check_mark: *Join keyword.* The number is opted in to marketing on this line; "
            "a confirmation was sent.",
            answer=answer(joined_text(line)),
        )

    if looks_like_opt_out_request(body):
        if opted_out_here:
            return KeywordOutcome(
                note=":octagonal_sign: This reads like a request to stop; the number is already opted out of this line."
            )
        request = await requests.open_request(
            session,
            requests.STOP,
            phone=phone,
            line_id=line.id,
            conversation_id=conversation_id,
            message_id=message.id,
            received_at=now,
        )
        return KeywordOutcome(request_id=request.id, note=stop_request_note(request.due_at))
    return KeywordOutcome()


def stop_request_note(due_at: datetime | None) -> str:
    due = f" on {due_at:%Y-%m-%d %H:%M} UTC" if due_at else ""
    return (
        ":warning: *This reads like a request to stop texting.* All marketing to this number is held. "
        "Confirm it to opt the number out (a confirmation is texted), or say it is not an opt-out. "
        f"If nobody decides, it is confirmed automatically{due}."
    )
