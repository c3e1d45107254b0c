"""How a page looks in Slack: what was sent, to whom, each person's delivery state, ACK and escalation."""

from __future__ import annotations

from bot.phone import mask
from bot.slack.format import escape
from storage.models.notify import Notification, NotificationRecipient
from storage.states import PageRecipientState, PageStatus

_ICON = {
    PageRecipientState.QUEUED: ":hourglass_flowing_sand:",
    PageRecipientState.SENT: ":outbox_tray:",
    PageRecipientState.DELIVERED: ":white_check_mark:",
    PageRecipientState.FAILED: ":x:",
    PageRecipientState.BLOCKED: ":no_entry:",
    PageRecipientState.NO_PHONE: ":grey_question:",
}


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


def _who(recipient: NotificationRecipient) -> str:
    if recipient.user_id:
        return f"<@{recipient.user_id}>" + (f" ({mask(recipient.phone)})" if recipient.phone else "")
    return mask(recipient.phone)


def notification_text(
    n: Notification, recipients: list[NotificationRecipient], *, escalation_minutes: int, escalates_to: str | None
) -> str:
    """The Slack text of a notification: what was sent, to whom, each person's delivery state, ACK/escalation."""
    target = f"*{n.group_name}*" if n.group_name else (f"<@{n.target}>" if n.target[:1] in "UW" else mask(n.target))
    if n.source == "slack":
        head = f":mega: Page #{n.id} from <@{n.created_by}> to {target}"
    elif n.source == "alertmanager":
        icon = ":rotating_light:" if n.alert_status == "firing" else ":large_green_circle:"
        head = f"{icon} Alertmanager page #{n.id} ({n.alert_status}) to {target}"
    elif n.source == "escalation":
        head = f":arrow_double_up: Escalation page #{n.id} to {target} (page #{n.parent_id} was not acknowledged)"
    else:
        head = f":mega: Page #{n.id} via the API to {target}"
    quoted = "\n".join("> " + line for line in escape(n.text).splitlines() or [""])
    lines = [head, quoted]
    if not recipients:
        lines.append("_Nobody to page: the group has no members._")
    for r in recipients:
        reason = f" — {escape(r.reason)}" if r.reason else ""
        lines.append(f"• {_who(r)}: {_ICON.get(r.state, '')} {r.state.replace('_', ' ')}{reason}")
    if n.status == PageStatus.ACKED:
        who = f"<@{n.acked_by_user}>" if n.acked_by_user else mask(n.acked_by_phone)
        lines.append(f":white_check_mark: Acknowledged by {who} at {_when(n.acked_at)}")
    elif n.status == PageStatus.RESOLVED:
        lines.append(":large_green_circle: Resolved by Alertmanager; no escalation.")
    if n.escalated_at is not None:
        lines.append(
            f":arrow_double_up: Not acknowledged within {escalation_minutes} min: "
            f"escalated to *{n.escalated_to}* at {_when(n.escalated_at)}"
        )
    elif n.status == PageStatus.OPEN and n.escalate_at is not None:
        lines.append(
            f":alarm_clock: Reply ACK (or 1) by SMS to acknowledge; escalates to "
            f"*{escalates_to}* at {_when(n.escalate_at)} otherwise"
        )
    return "\n".join(lines)
