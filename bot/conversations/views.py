"""How a customer's texts show in their conversation thread (the thread's root card is `card.py`)."""

from __future__ import annotations

from bot.slack.format import escape, section_pieces


def inbound_post(body: str, media_count: int, note: str, flagged: bool, phone: str) -> dict:
    """The thread reply that shows a customer's text (and, for keywords, what it did)."""
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
