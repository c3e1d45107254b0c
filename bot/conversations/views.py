"""How a customer's texts show in their conversation thread (the thread's root card is `card.py`)."""

from __future__ import annotations

from bot.slack.format import escape


def inbound_post(body: str, media_count: int, note: str, request_id: int | None) -> dict:
    """The thread reply that shows a customer's text (and, for keywords, what it did; for a stop request in
    plain words, its *Confirm opt-out* and *Not an opt-out* buttons)."""
    text = escape(body) if body else "_(no text)_"
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
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
    return {"text": body or "(attachment)", "blocks": blocks, "inbound": True}


def opted_out_by(user: str | None, confirmation: object | None) -> str:
    """The thread note of an opt-out a person (or the due time of a stop request) made."""
    who = f"<@{user}> opted this number out" if user else "This number is opted out"
    texted = " A confirmation was texted." if confirmation is not None else ""
    return f":no_entry: {who}. Nothing more will be sent to it.{texted}"
