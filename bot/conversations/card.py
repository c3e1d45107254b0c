"""The live card at the root of each conversation thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.compliance.consent import ConsentState
from bot.conversations.views import inbound_post
from bot.slack.format import escape, pretty_phone, slack_date
from bot.slack.outbox import MAX_POST_BLOCKS

_CONSENT_LABEL = {
    "opted_in": ":white_check_mark: opted in",
    "opted_out": ":no_entry: opted out",
    "unknown": ":grey_question: no consent on record",
}


@dataclass(frozen=True)
class FirstText:
    """The text a new conversation began with: it travels in the root card's own post."""

    body: str
    media_count: int


@dataclass(frozen=True)
class CardFacts:
    phone: str
    name: str
    line_label: str
    transactional: ConsentState
    marketing: ConsentState
    last_activity: datetime
    last_agent: str | None
    number_status: str = "ok"
    conversation_id: int = 0
    status: str = "open"
    assignee: str | None = None
    tags: tuple[str, ...] = ()
    notes: str = ""
    closed_now: bool = False  # outside the line's business hours when the card was drawn
    first_text: FirstText | None = None  # the customer's text that opened the thread, shown in the card itself


NOTES_SHOWN = 280  # characters of the contact's notes the card shows
CARD_OWN_BLOCKS = 5  # at most: title, details, contact, buttons, how to reply


def carries_first_text(body: str, media_count: int, note: str, request_id: int | None) -> bool:
    """Whether a new conversation's first text goes in its root card's post (one post, not two): an ordinary
    text does, when it fits in one message beside the card; a keyword's note or a stop request's buttons get
    their own post in the thread, where they are acted on."""
    if note or request_id is not None:
        return False
    return CARD_OWN_BLOCKS + len(inbound_post(body, media_count, "", None)["blocks"]) <= MAX_POST_BLOCKS


def card_actions(facts: CardFacts) -> dict:
    """The card's buttons; each carries the conversation's id."""
    value = str(facts.conversation_id)
    resolve = (
        {"action_id": "conversation_reopen", "text": "Reopen"}
        if facts.status == "resolved"
        else {"action_id": "conversation_resolve", "text": "Resolve", "style": "primary"}
    )
    buttons = [{"action_id": "conversation_assign_me", "text": "Assign to me"}, resolve]
    buttons.append({"action_id": "conversation_edit_contact", "text": "Edit contact"})
    elements = []
    for button in buttons:
        element = {
            "type": "button",
            "action_id": button["action_id"],
            "text": {"type": "plain_text", "text": button["text"]},
            "value": value,
        }
        if "style" in button:
            element["style"] = button["style"]
        elements.append(element)
    return {"type": "actions", "block_id": "conversation_card", "elements": elements}


FALLBACK_TEXT_SHOWN = 300  # characters of the first text in the card's notification text


def card_text(facts: CardFacts) -> str:
    """Fallback text (notifications, screen readers), with the first text when the card carries it; what people
    wrote is escaped, as Slack reads mentions such as `<!channel>` in this text too."""
    who = f" ({escape(facts.name)})" if facts.name else ""
    text = f"SMS conversation with {pretty_phone(facts.phone)}{who} on {escape(facts.line_label)}"
    if facts.first_text is not None:
        text += ": " + (escape(facts.first_text.body[:FALLBACK_TEXT_SHOWN]) or "(attachment)")
    return text


def card_blocks(facts: CardFacts) -> list[dict]:
    """Block Kit for the thread root: number, name, status, assignee, consent, last activity, contact, buttons."""
    title = f":speech_balloon: *{pretty_phone(facts.phone)}*"
    if facts.name:
        title += f"  ·  {escape(facts.name)}"
    if facts.transactional.opted_out:
        consent = _CONSENT_LABEL["opted_out"]
    else:
        consent = _CONSENT_LABEL[facts.marketing.status] + " (marketing)"
    status = ":white_check_mark: resolved" if facts.status == "resolved" else ":large_green_circle: open"
    details = [
        f"*Status:* {status}",
        f"*Assignee:* {f'<@{facts.assignee}>' if facts.assignee else 'nobody'}",
        f"*Line:* {escape(facts.line_label)}",
        f"*Consent:* {consent}",
        f"*Last activity:* {slack_date(facts.last_activity)}",
        f"*Answered by:* {f'<@{facts.last_agent}>' if facts.last_agent else 'nobody yet'}",
    ]
    if facts.number_status != "ok":
        details.append(f"*Number:* :warning: {facts.number_status}")
    if facts.closed_now:
        details.append("*Hours:* :crescent_moon: closed now")
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": title}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "  |  ".join(details)}]},
    ]
    contact = []
    if facts.tags:
        contact.append("*Tags:* " + " ".join(f"`{escape(tag)}`" for tag in facts.tags))
    if facts.notes:
        notes = facts.notes if len(facts.notes) <= NOTES_SHOWN else facts.notes[: NOTES_SHOWN - 1] + "…"
        contact.append("*Notes:* " + escape(notes.replace("\n", " ")))
    if contact:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "  |  ".join(contact)}]})
    if facts.first_text is not None:
        blocks += inbound_post(facts.first_text.body, facts.first_text.media_count, "", None)["blocks"]
    if facts.conversation_id:
        blocks.append(card_actions(facts))
    return blocks + [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": (
                        "Reply in this thread to text the customer. Start a reply with `note:` to keep it internal, "
                        "or reply `!NAME` to send a saved snippet."
                    ),
                }
            ],
        },
    ]
