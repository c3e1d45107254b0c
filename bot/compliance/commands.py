"""The consent ledger by hand: `/sms optout`, `/sms optin` and `/sms consent`, for admins.

Each function takes the command's argument text and returns the answer for the person who ran it.
A change made in a line's channel applies to that line; made anywhere else, to every line.
Nothing is changed when the input cannot be read: the answer quotes what was wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent
from bot.lines import KnownLine
from bot.permissions import is_admin, refusal
from bot.phone import InvalidPhoneNumber, parse_e164
from bot.services import Services
from bot.slack import outbox
from bot.slack.format import escape, pretty_phone, slack_date
from storage.models import ConsentEvent, Conversation

OPTOUT_USAGE = "`/sms optout +14155550100 [reason...]`"
OPTIN_USAGE = "`/sms optin +14155550100 source=WHERE [scope=marketing|transactional|all] [evidence...]`"
CONSENT_USAGE = "`/sms consent +14155550100`"
HISTORY_LIMIT = 20
MAX_EVIDENCE = 1000

_PHONE_WORD = re.compile(r"[0-9+().\-]+")
# key=value options; a value may be quoted to hold spaces: source="paper form"
_OPTION = re.compile(r'(?<!\S)(source|scope)=("([^"]*)"|(\S*))', re.IGNORECASE)


@dataclass(frozen=True)
class Where:
    """Which line a command applies to: the channel's line, or every line (None)."""

    line: KnownLine | None

    @property
    def line_id(self) -> int | None:
        return self.line.id if self.line else None

    def describe(self) -> str:
        return f"the {line_label(self.line)} line" if self.line else "every line"


def line_label(line: KnownLine | None) -> str:
    if line is None:
        return "all lines"
    key = pretty_phone(line.config.number) if line.config.number else (line.config.messaging_service or "")
    return f"{line.config.brand} {key}".strip()


def _number(args: str, usage: str) -> tuple[str | None, str, str | None]:
    """(E.164 number, the rest of the text, error answer). The number may be written with spaces: "(415) 555-0123"."""
    words = args.split()
    if not words:
        return None, "", f"Usage: {usage}"
    phone_like = 0
    while phone_like < len(words) and _PHONE_WORD.fullmatch(words[phone_like]):
        phone_like += 1
    for count in range(phone_like, 0, -1):  # the longest run of number-like words that reads as a number
        try:
            return parse_e164(" ".join(words[:count])), " ".join(words[count:]), None
        except InvalidPhoneNumber:
            continue
    try:
        return parse_e164(words[0]), " ".join(words[1:]), None
    except InvalidPhoneNumber as exc:
        return None, "", f":warning: {escape(str(exc))}. Write it like +14155550100. Nothing was changed."


def parse_options(text: str) -> tuple[dict[str, str], str, str | None]:
    """Split `source=... scope=... free text` into ({source, scope}, free text, error)."""
    options: dict[str, str] = {}
    for match in _OPTION.finditer(text):
        key = match.group(1).lower()
        value = (match.group(3) if match.group(3) is not None else match.group(4)).strip()
        if key in options:
            return {}, "", f":warning: `{key}=` is given twice. Nothing was changed."
        options[key] = value
    rest = " ".join(_OPTION.sub(" ", text).split())
    return options, rest, None


async def _refresh_cards(session: AsyncSession, phone: str, where: Where, note: str) -> int:
    """Queue a card update (and a thread note) for every conversation of `phone` the change applies to."""
    query = select(Conversation).where(Conversation.phone == phone)
    if where.line_id is not None:
        query = query.where(Conversation.line_id == where.line_id)
    conversations = list((await session.scalars(query)).all())
    for conversation in conversations:
        await outbox.enqueue(session, channel=conversation.channel, op="update_card", conversation_id=conversation.id)
        await outbox.enqueue(
            session, channel=conversation.channel, op="post", conversation_id=conversation.id, payload={"text": note}
        )
    return len(conversations)


async def opt_out(services: Services, *, user: str, channel: str, args: str) -> str:
    """`/sms optout NUMBER [reason...]`: record an opt-out (scope all) by hand."""
    if not is_admin(services.settings, user):
        return refusal("admins")
    phone, reason, error = _number(args, OPTOUT_USAGE)
    if error:
        return error
    reason = reason[:MAX_EVIDENCE]
    where = Where(services.lines.by_channel(channel))
    evidence = f"opted out by <@{user}> with /sms optout" + (f": {reason}" if reason else "")
    async with services.db.session() as session:
        await consent.record(
            session,
            phone=phone,
            action="opt_out",
            source="slack",
            scope="all",
            line_id=where.line_id,
            evidence=evidence,
            actor=user,
        )
        note = f":no_entry: <@{user}> opted this number out with `/sms optout`" + (
            f": {escape(reason)}" if reason else "."
        )
        await _refresh_cards(session, phone, where, note + " Nothing more will be sent to it.")
    services.wakeups.poke_outbox()
    scope_note = "from that line" if where.line else "from any line"
    return f":no_entry: {phone} is opted out of {where.describe()}. Nothing more will be sent to it {scope_note}."


async def opt_in(services: Services, *, user: str, channel: str, args: str) -> str:
    """`/sms optin NUMBER source=... [scope=...] [evidence...]`: record an opt-in by hand, with its evidence."""
    if not is_admin(services.settings, user):
        return refusal("admins")
    phone, rest, error = _number(args, OPTIN_USAGE)
    if error:
        return error
    options, free_text, error = parse_options(rest)
    if error:
        return error
    source = options.get("source", "")
    if not source:
        return (
            ":warning: Say where the consent comes from with `source=...` (a web form, a paper form, a call).\n"
            f"Usage: {OPTIN_USAGE}. Nothing was changed."
        )
    scope = options.get("scope", "all").lower()
    if scope not in consent.SCOPES:
        return (
            f":warning: scope {escape(options['scope'])!r} must be marketing, transactional or all. "
            "Nothing was changed."
        )
    where = Where(services.lines.by_channel(channel))
    evidence = f"opted in by <@{user}> with /sms optin; consent source: {source}"
    if free_text:
        evidence += f"; {free_text}"
    evidence = evidence[:MAX_EVIDENCE]
    async with services.db.session() as session:
        await consent.record(
            session,
            phone=phone,
            action="opt_in",
            source="slack",
            scope=scope,
            line_id=where.line_id,
            evidence=evidence,
            actor=user,
        )
        await _refresh_cards(
            session,
            phone,
            where,
            f":arrow_forward: <@{user}> opted this number in ({scope}) with `/sms optin`, source: {escape(source)}.",
        )
        states = await _states(session, phone, where)
    services.wakeups.poke_outbox()
    answer = f":white_check_mark: {phone} is opted in ({scope}) on {where.describe()}, source: {escape(source)}."
    if any(state.opted_out for _label, state in states):
        answer += (
            "\n:warning: It is still opted out for: "
            + ", ".join(label for label, state in states if state.opted_out)
            + " (an opt-out of a wider scope or on a line wins)."
        )
    return answer


async def _states(session: AsyncSession, phone: str, where: Where) -> list[tuple[str, consent.ConsentState]]:
    events = await consent.history(session, phone, where.line_id, limit=1000)
    if where.line_id is None:  # every line: only the all-line events decide what holds everywhere
        events = [e for e in events if e.line_id is None]
    return [(purpose, consent.state_from(events, purpose)) for purpose in ("transactional", "marketing")]


_ACTION_LABEL = {"opt_in": ":white_check_mark: opt-in", "opt_out": ":no_entry: opt-out"}
_STATE_LABEL = {"opted_in": "opted in", "opted_out": "opted out", "unknown": "no consent on record"}


def _event_line(event: ConsentEvent, services: Services) -> str:
    line = services.lines.by_id(event.line_id) if event.line_id is not None else None
    where = line_label(line) if event.line_id is None or line else f"line {event.line_id}"
    actor = f" by <@{event.actor}>" if event.actor else ""
    evidence = f" — {escape(event.evidence)}" if event.evidence else ""
    return (
        f"• {slack_date(event.created_at)} {_ACTION_LABEL.get(event.action, event.action)} "
        f"({event.scope}) · source {event.source} · {escape(where)}{actor}{evidence}"
    )


async def show(services: Services, *, user: str, channel: str, args: str) -> str:
    """`/sms consent NUMBER`: where the number stands, and its ledger, newest first."""
    if not is_admin(services.settings, user):
        return refusal("admins")
    phone, _rest, error = _number(args, CONSENT_USAGE)
    if error:
        return error
    line = services.lines.by_channel(channel)
    async with services.db.session() as session:
        events = await consent.history(session, phone, line.id if line else None, limit=1000)
    lines_to_show = [line] if line else services.lines.all()
    out = [f"*Consent for {pretty_phone(phone)}*"]
    for known in lines_to_show:
        relevant = [e for e in events if e.line_id in (known.id, None)]
        now = ", ".join(
            f"{purpose} {_STATE_LABEL[consent.state_from(relevant, purpose).status]}"
            for purpose in ("transactional", "marketing")
        )
        out.append(f"Now on {escape(line_label(known))}: {now}")
    if not events:
        out.append("No consent events on record.")
        return "\n".join(out)
    shown = events[:HISTORY_LIMIT]
    out.append(
        f"History, newest first ({len(events)} event{'s' if len(events) != 1 else ''}"
        + (f", latest {HISTORY_LIMIT} shown" if len(events) > HISTORY_LIMIT else "")
        + "):"
    )
    out += [_event_line(event, services) for event in shown]
    return "\n".join(out)
