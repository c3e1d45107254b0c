"""How a customer's texts show in their conversation thread (the thread's root card is `card.py`)."""

from __future__ import annotations

from datetime import datetime

from bot.slack.format import escape, pretty_phone, section_pieces


def inbound_post(body: str, media_count: int, note: str, request_id: int | None) -> dict:
    """The thread reply that shows a customer's text (and, for keywords, what it did; for a stop request in
    plain words, its *Confirm opt-out* and *Not an opt-out* buttons)."""
    text = escape(body) if body else "_(no text)_"
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in section_pieces(text)
    ]
    footer = ":iphone: Customer"
    if media_count:
        footer += f" · {media_count} attachment{'s' if media_count > 1 else ''} below"
    blocks.append({"type": "context", "block_id": "customer", "elements": [{"type": "mrkdwn", "text": footer}]})
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    if request_id is not None:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"stop_request_{request_id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "stop_request_confirm",
                        "style": "danger",
                        "text": {"type": "plain_text", "text": "Confirm opt-out"},
                        "value": str(request_id),
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Opt this number out?"},
                            "text": {
                                "type": "mrkdwn",
                                "text": "Nothing more is sent to it from this line; it is texted one confirmation.",
                            },
                            "confirm": {"type": "plain_text", "text": "Opt out"},
                            "deny": {"type": "plain_text", "text": "Cancel"},
                        },
                    },
                    {
                        "type": "button",
                        "action_id": "stop_request_dismiss",
                        "text": {"type": "plain_text", "text": "Not an opt-out"},
                        "value": str(request_id),
                    },
                ],
            }
        )
    return {"text": escape(body) or "(attachment)", "blocks": blocks, "inbound": True}  # notifications read it


def opted_out_by(user: str | None, confirmation: object | None) -> str:
    """The thread note of an opt-out a person (or the due time of a stop request) made."""
    who = f"<@{user}> opted this number out" if user else "This number is opted out"
    texted = " A confirmation was texted." if confirmation is not None else ""
    return f":no_entry: {who}. Nothing more will be sent to it.{texted}"


# -- the inbox's notes in the thread ---------------------------------------------------------------------------


def reopened_by_customer() -> str:
    return ":arrows_counterclockwise: *Reopened:* the customer wrote again."


def reopened(actor: str) -> str:
    return f":arrows_counterclockwise: <@{actor}> reopened this conversation."


def resolved(actor: str) -> str:
    return f":white_check_mark: <@{actor}> resolved this conversation."


def assigned(actor: str, to: str, before: str | None) -> str:
    taken = f" (was <@{before}>)" if before else ""
    if actor == to:
        return f":bust_in_silhouette: <@{to}> took this conversation{taken}."
    return f":bust_in_silhouette: <@{actor}> assigned this conversation to <@{to}>{taken}."


def away_sent(text: str) -> str:
    return f":crescent_moon: Outside business hours. Automatic answer: {escape(text)}"


def unanswered(assignee: str | None, minutes: int) -> str:
    who = f"<@{assignee}>" if assignee else "<!here>"
    return f":alarm_clock: {who} the customer has waited {minutes} minute{'s' if minutes != 1 else ''} for an answer."


def snippet_sent(user: str, name: str, text: str) -> str:
    return f"<@{user}> sent snippet `!{name}`: {escape(text)}"


def unknown_snippet(name: str) -> str:
    return (
        f":warning: There is no snippet `!{escape(name)}`: nothing was sent. `/sms snippet list` shows the saved ones."
    )


# -- /sms inbox, find, snippet list ----------------------------------------------------------------------------


def waited(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def thread_link(base: str | None, channel: str, thread_ts: str | None) -> str:
    """A link to the thread in Slack's archive URL form (what chat.getPermalink answers for a thread root)."""
    if not thread_ts:
        return "_thread not posted yet_"
    if base is None:
        return f"thread {thread_ts} in <#{channel}>"
    return f"<{base.rstrip('/')}/archives/{channel}/p{thread_ts.replace('.', '')}|open thread>"


def _row(row, now: datetime, base: str | None) -> str:
    conversation = row.conversation
    who = f" ({escape(row.name)})" if row.name else ""
    if conversation.status == "resolved":
        state = "resolved"
    elif conversation.awaiting_since is not None:
        state = f":hourglass_flowing_sand: waiting {waited((now - conversation.awaiting_since).total_seconds())}"
    else:
        state = "answered"
    owner = f"<@{conversation.assignee}>" if conversation.assignee else "unassigned"
    link = thread_link(base, conversation.channel, conversation.thread_ts)
    return f"• *{pretty_phone(conversation.phone)}*{who} — {state} — {owner} — {link}"


def inbox_answer(rows: list, which: str, now: datetime, base: str | None, *, more: bool) -> str:
    title = {"mine": "assigned to you", "unassigned": "unassigned", "all": "open"}[which]
    if not rows:
        return f"No {title} conversations. :tada:" if which != "mine" else "No open conversations are assigned to you."
    lines = [f"*Conversations {title}*, the longest waiting first:"] + [_row(row, now, base) for row in rows]
    if more:
        lines.append(f"_…and more; only the first {len(rows)} are listed._")
    return "\n".join(lines)


def find_answer(rows: list, text: str, now: datetime, base: str | None, *, more: bool) -> str:
    if not rows:
        return f"No conversation matches {escape(text)!r} (by number, contact name or tag)."
    lines = [f"*Conversations matching* {escape(text)!r}:"] + [_row(row, now, base) for row in rows]
    if more:
        lines.append(f"_…and more; only the first {len(rows)} are listed._")
    return "\n".join(lines)


def snippet_list(saved: list[tuple[str, str]]) -> str:
    if not saved:
        return "No snippets yet. An admin adds one with `/sms snippet add NAME TEXT`."
    lines = ["*Snippets* (reply `!NAME` in a conversation thread to send one):"]
    lines += [f"• `!{name}` — {escape(text if len(text) <= 120 else text[:119] + '…')}" for name, text in saved]
    return "\n".join(lines)
