"""The send gate: every outbound text passes here at send time, whatever path queued it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent
from bot.compliance.quiet_hours import QuietHoursPolicy, next_allowed
from bot.settings import ComplianceConfig
from storage.models import Contact, Message

SENT_STATUSES = ("sending", "sent", "delivered", "undelivered", "unknown")


@dataclass(frozen=True)
class Decision:
    """`send`, `block` (never: recorded reason) or `defer` (not now: try again at `until`)."""

    action: str
    reason: str = ""
    until: datetime | None = None

    @property
    def allowed(self) -> bool:
        return self.action == "send"


SEND = Decision("send")


def quiet_policy(config: ComplianceConfig) -> QuietHoursPolicy:
    return QuietHoursPolicy.from_config(config.quiet_hours, config.quiet_hours_by_region)


async def check(
    session: AsyncSession, message: Message, *, config: ComplianceConfig, policy: QuietHoursPolicy, now: datetime
) -> Decision:
    """Decide whether `message` may go out now.

    Every purpose: nothing to a number whose governing consent event is an opt-out.
    Marketing also needs an opt-in on record, a number not marked invalid/landline, the recipient's
    local quiet hours and the rolling 24-hour frequency cap.
    """
    if message.purpose == "compliance":
        return SEND  # the one confirmation a STOP/START/HELP requires, sent whatever the consent state
    state = await consent.current(session, message.phone, message.line_id, message.purpose)
    if state.opted_out:
        source = f" ({state.source})" if state.source else ""
        return Decision("block", f"the number opted out{source}; nothing is sent to it")
    if message.purpose != "marketing":
        return SEND
    if not state.opted_in:
        return Decision("block", "no marketing opt-in on record for this number")
    contact = await session.scalar(select(Contact).where(Contact.phone == message.phone))
    if contact is not None and contact.number_status != "ok":
        return Decision("block", f"the number is marked {contact.number_status}: {contact.number_status_reason}")
    allowed_at = next_allowed(message.phone, now, policy)
    if allowed_at is None:
        return Decision("block", "no moment in the next 7 days falls inside quiet-hour rules in every time zone of the number")
    if allowed_at > now:
        return Decision("defer", "recipient's quiet hours", allowed_at)
    sent_recently = await session.scalar(
        select(func.count(Message.id)).where(
            Message.phone == message.phone,
            Message.purpose == "marketing",
            Message.direction == "out",
            Message.status.in_(SENT_STATUSES),
            Message.sent_at > now - timedelta(hours=24),
            Message.id != message.id,
        )
    )
    if sent_recently >= config.frequency_cap:
        oldest = await session.scalar(
            select(func.min(Message.sent_at)).where(
                Message.phone == message.phone,
                Message.purpose == "marketing",
                Message.status.in_(SENT_STATUSES),
                Message.sent_at > now - timedelta(hours=24),
            )
        )
        return Decision(
            "block", f"frequency cap: {sent_recently} marketing texts in the last 24 hours "
                     f"(limit {config.frequency_cap}); next possible after {oldest + timedelta(hours=24):%Y-%m-%d %H:%M} UTC"
        )
    return SEND
