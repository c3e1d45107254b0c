"""How consent reads in Slack: line labels, the notes a manual change leaves in threads, a number's ledger."""

from __future__ import annotations

from bot.compliance import consent
from bot.lines import KnownLine, LineDirectory
from bot.slack.format import escape, pretty_phone, slack_date
from bot.slack.mentions import escape_keeping_mentions
from storage.models import ConsentEvent

HISTORY_LIMIT = 20

_ACTION_LABEL = {"opt_in": ":white_check_mark: opt-in", "opt_out": ":no_entry: opt-out"}
_STATE_LABEL = {"opted_in": "opted in", "opted_out": "opted out", "unknown": "no consent on record"}


def line_label(line: KnownLine | None) -> str:
    if line is None:
        return "all lines"
    key = pretty_phone(line.config.number) if line.config.number else (line.config.messaging_service or "")
    return f"{line.config.brand} {key}".strip()


def where_text(line: KnownLine | None) -> str:
    """What a change made for `line` (None: every line) applies to, in a sentence."""
    return f"the {line_label(line)} line" if line else "every line"


def opted_out_note(user: str, reason: str, texted: bool = False) -> str:
    """The thread note of an opt-out made with `/sms optout`."""
    note = f":no_entry: <@{user}> opted this number out with `/sms optout`" + (f": {escape(reason)}" if reason else ".")
    return note + " Nothing more will be sent to it." + (" A confirmation was texted." if texted else "")


def stop_request_confirmed_note(user: str | None, texted: bool) -> str:
    """The thread note when a stop request in plain words is confirmed (by a person, or at its due time)."""
    who = (
        f"<@{user}> confirmed the stop request" if user else "Nobody decided the stop request in time: it is confirmed"
    )
    return f":no_entry: {who}; the number is opted out of this line." + (
        " A confirmation was texted." if texted else ""
    )


def stop_request_dismissed_note(user: str) -> str:
    return f":arrow_forward: <@{user}> marked the request as not an opt-out; the hold on marketing is lifted."


def opted_in_note(user: str, scope: str, source: str) -> str:
    """The thread note of an opt-in made with `/sms optin`."""
    return f":arrow_forward: <@{user}> opted this number in ({scope}) with `/sms optin`, source: {escape(source)}."


def opted_out_answer(phone: str, line: KnownLine | None, recorded: bool = True) -> str:
    if not recorded:
        return f"{phone} was already opted out of {where_text(line)}. Nothing was changed and nothing was texted."
    scope_note = "from that line" if line else "from any line"
    return (
        f":no_entry: {phone} is opted out of {where_text(line)}. Nothing more will be sent to it {scope_note}; "
        "it was texted one confirmation (when it has talked to a line)."
    )


def opted_in_answer(
    phone: str, line: KnownLine | None, scope: str, source: str, states: list[tuple[str, consent.ConsentState]]
) -> str:
    answer = f":white_check_mark: {phone} is opted in ({scope}) on {where_text(line)}, source: {escape(source)}."
    if any(state.opted_out for _label, state in states):
        answer += (
            "\n:warning: It is still opted out for: "
            + ", ".join(label for label, state in states if state.opted_out)
            + " (an opt-out of a wider scope or on a line wins)."
        )
    return answer


def _event_line(event: ConsentEvent, lines: LineDirectory) -> str:
    line = lines.by_id(event.line_id) if event.line_id is not None else None
    where = line_label(line) if event.line_id is None or line else f"line {event.line_id}"
    actor = f" by <@{event.actor}>" if event.actor else ""
    evidence = f" — {escape_keeping_mentions(event.evidence)}" if event.evidence else ""
    return (
        f"• {slack_date(event.created_at)} {_ACTION_LABEL.get(event.action, event.action)} "
        f"({event.scope}) · source {event.source} · {escape(where)}{actor}{evidence}"
    )


def standing(phone: str, events: list[ConsentEvent], shown: list[KnownLine], lines: LineDirectory) -> str:
    """`/sms consent`: where the number stands on each of the `shown` lines, and its ledger, newest first."""
    out = [f"*Consent for {pretty_phone(phone)}*"]
    for known in shown:
        relevant = [e for e in events if e.line_id in (known.id, None)]
        now = ", ".join(
            f"{purpose} {_STATE_LABEL[consent.state_from(relevant, purpose).status]}"
            for purpose in ("transactional", "marketing")
        )
        out.append(f"Now on {escape(line_label(known))}: {now}")
    if not events:
        out.append("No consent events on record.")
        return "\n".join(out)
    latest = events[:HISTORY_LIMIT]
    out.append(
        f"History, newest first ({len(events)} event{'s' if len(events) != 1 else ''}"
        + (f", latest {HISTORY_LIMIT} shown" if len(events) > HISTORY_LIMIT else "")
        + "):"
    )
    out += [_event_line(event, lines) for event in latest]
    return "\n".join(out)
