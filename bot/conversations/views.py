"""How a customer's texts show in their conversation thread (the thread's root card is `card.py`)."""

from __future__ import annotations

from bot.slack.format import escape


def inbound_post(body: str, media_count: int, note: str, flagged: bool, phone: str) -> dict:
    """The thread reply that shows a customer's text (and, for keywords, what it did)."""
    text = escape(body) if body else "_(no text)_"
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    footer = ":iphone: Customer"
    if media_count:
        footer += f" · {media_count} attachment{'s' if media_count > 1 else ''} below"
    blocks.append({"type": "context", "block_id": "customer", "elements": [{"type": "mrkdwn", "text": footer}]})
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    if flagged:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "conversation_opt_out",
                        "style": "danger",
                        "text": {"type": "plain_text", "text": "Opt out"},
                        "value": phone,
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Opt this number out?"},
                            "text": {"type": "mrkdwn", "text": "Nothing more will be sent to it from this line."},
                            "confirm": {"type": "plain_text", "text": "Opt out"},
                            "deny": {"type": "plain_text", "text": "Cancel"},
                        },
                    }
                ],
            }
        )
    return {"text": body or "(attachment)", "blocks": blocks, "inbound": True}


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


def assigned_first_answer(user: str) -> str:
    return f":bust_in_silhouette: Assigned to <@{user}>, the first to answer."


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
