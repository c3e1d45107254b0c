"""How a page looks in Slack: what was sent, who was paged at each step of its policy and their delivery state,
ACK and resolve, and the *Acknowledge* / *Resolve* buttons."""

from __future__ import annotations

from datetime import timedelta

from bot.paging_config import Policy
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


SECTION_LIMIT = 2900  # characters in one section block (Slack allows 3,000)
ACK_ACTION, RESOLVE_ACTION = "page_ack", "page_resolve"


def _step_label(policy: Policy | None, n: Notification, step: int) -> str:
    """Whom a step paged: the policy's step; the first step pages the page's own target with it."""
    if policy is None:
        return n.target
    label = policy.step(step).notify
    return f"{n.target} + {label}" if step == 0 and label != n.target else label


def _step_at(policy: Policy, n: Notification, step: int):
    """When step `step` was due: the page's time plus the waits of the steps before it."""
    minutes = sum(policy.step(i).wait_minutes for i in range(step))
    return n.created_at + timedelta(minutes=minutes)


def notification_text(n: Notification, recipients: list[NotificationRecipient], policy: Policy | None) -> str:
    """The Slack text of a page: what was sent, who was paged at each step and their delivery state, ACK/resolve."""
    target = f"*{n.group_name}*" if n.group_name else (f"<@{n.target}>" if n.target[:1] in "UW" else escape(n.target))
    if n.target.startswith("+"):
        target = mask(n.target)
    if n.source == "slack":
        head = f":mega: Page #{n.id} from <@{n.created_by}> to {target}"
    elif n.source == "alertmanager":
        icon = ":rotating_light:" if n.alert_status == "firing" else ":large_green_circle:"
        head = f"{icon} Alertmanager page #{n.id} ({n.alert_status}) to {target}"
    elif n.source == "escalation":
        head = f":arrow_double_up: Escalation page #{n.id} to {target} (page #{n.parent_id} was not acknowledged)"
    else:
        head = f":mega: Page #{n.id} via the API to {target}"
    if policy is not None:
        head += f" — policy *{escape(policy.name)}*, step {n.step + 1} of {policy.total_steps}"
    quoted = "\n".join("> " + line for line in escape(n.text).splitlines() or [""])
    lines = [head, quoted]
    if not recipients:
        lines.append("_Nobody to page: the group has no members._")
    steps = sorted({r.step for r in recipients})
    for step in steps:
        if policy is not None:
            lines.append(
                f"*Step {step + 1}* ({escape(_step_label(policy, n, step))}, {_when(_step_at(policy, n, step))}):"
            )
        for r in (r for r in recipients if r.step == step):
            reason = f" — {escape(r.reason)}" if r.reason else ""
            lines.append(f"• {_who(r)}: {_ICON.get(r.state, '')} {r.state.replace('_', ' ')}{reason}")
    if n.acked_at is not None:
        who = f"<@{n.acked_by_user}>" if n.acked_by_user else mask(n.acked_by_phone)
        lines.append(f":white_check_mark: Acknowledged by {who} at {_when(n.acked_at)}")
    if n.status == PageStatus.RESOLVED:
        if n.resolved_by == "alertmanager" or (n.resolved_at is None and n.source == "alertmanager"):
            lines.append(":large_green_circle: Resolved by Alertmanager.")
        elif n.resolved_by:
            who = f"<@{n.resolved_by}>" if n.resolved_by[:1] in "UW" else mask(n.resolved_by)
            lines.append(f":large_green_circle: Resolved by {who} at {_when(n.resolved_at)}")
        else:
            lines.append(":large_green_circle: Resolved.")
    elif n.status == PageStatus.OPEN:
        if n.escalate_at is not None and policy is not None:
            following = policy.step(n.step + 1).notify
            lines.append(
                f":alarm_clock: Reply ACK {n.id} by SMS (or click Acknowledge); otherwise step {n.step + 2} pages "
                f"*{escape(following)}* at {_when(n.escalate_at)}"
            )
        elif policy is not None:
            lines.append(
                f":alarm_clock: Reply ACK {n.id} by SMS (or click Acknowledge). Last step of the policy reached."
            )
        else:
            lines.append(f":alarm_clock: Reply ACK {n.id} by SMS (or click Acknowledge).")
    if n.escalated_at is not None and n.parent_id is None and policy is None:
        lines.append(f":arrow_double_up: Escalated to *{escape(n.escalated_to or '')}* at {_when(n.escalated_at)}")
    return "\n".join(lines)


def notification_message(n: Notification, recipients: list[NotificationRecipient], policy: Policy | None) -> dict:
    """The page's Slack message: its text, and *Acknowledge* / *Resolve* buttons while it is not resolved."""
    text = notification_text(n, recipients, policy)
    shown = text if len(text) <= SECTION_LIMIT else text[: SECTION_LIMIT - 1] + "…"
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": shown}}]
    buttons = []
    if n.status == PageStatus.OPEN:
        buttons.append(
            {
                "type": "button",
                "action_id": ACK_ACTION,
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "style": "primary",
                "value": str(n.id),
            }
        )
    if n.status in (PageStatus.OPEN, PageStatus.ACKED):
        buttons.append(
            {
                "type": "button",
                "action_id": RESOLVE_ACTION,
                "text": {"type": "plain_text", "text": "Resolve"},
                "value": str(n.id),
            }
        )
    if buttons:
        blocks.append({"type": "actions", "block_id": f"page_{n.id}", "elements": buttons})
    return {"text": text, "blocks": blocks}
