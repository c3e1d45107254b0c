"""The live card at the root of each conversation thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.compliance.consent import ConsentState
from bot.slack.format import escape, pretty_phone, slack_date

_CONSENT_LABEL = {
    "opted_in": ":white_check_mark: opted in",
    "opted_out": ":no_entry: opted out",
    "unknown": ":grey_question: no consent on record",
}


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


def card_text(facts: CardFacts) -> str:
    """Plain-text fallback (notifications, screen readers)."""
    who = f" ({facts.name})" if facts.name else ""
    return f"SMS conversation with {pretty_phone(facts.phone)}{who} on {facts.line_label}"


def card_blocks(facts: CardFacts) -> list[dict]:
    """Block Kit for the thread root: number, name, consent, last activity, who answered."""
    title = f":speech_balloon: *{pretty_phone(facts.phone)}*"
    if facts.name:
        title += f"  ·  {escape(facts.name)}"
    if facts.transactional.opted_out:
        consent = _CONSENT_LABEL["opted_out"]
    else:
        consent = _CONSENT_LABEL[facts.marketing.status] + " (marketing)"
    details = [
        f"*Line:* {escape(facts.line_label)}",
        f"*Consent:* {consent}",
        f"*Last activity:* {slack_date(facts.last_activity)}",
        f"*Answered by:* {f'<@{facts.last_agent}>' if facts.last_agent else 'nobody yet'}",
    ]
    if facts.number_status != "ok":
        details.append(f"*Number:* :warning: {facts.number_status}")
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": title}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "  |  ".join(details)}]},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": (
                        "Reply in this thread to text the customer. Start a reply with `note:` to keep it internal."
                    ),
                }
            ],
        },
    ]
