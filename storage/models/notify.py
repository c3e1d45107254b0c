"""Team notification tables: roster, groups, notifications and their recipients, escalations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, State, UTCDateTime, follow, utcnow
from storage.models.core import BigId
from storage.states import PAGE_FLOW, PAGE_RECIPIENT_FLOW, PageRecipientState, PageStatus


class RosterEntry(Base):
    """A Slack user's paging number, set by an admin (`/sms team add`).

    Without one, the Slack profile's phone is used."""

    __tablename__ = "notify_roster"
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    added_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GroupMember(Base):
    """Group membership added by command, on top of the config file's [teams]."""

    __tablename__ = "notify_group_members"
    group_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    added_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """One page: to a group, a person or a number; from Slack, the API, Alertmanager or an escalation.

    status: open (may be acknowledged; escalates at `escalate_at` if set) | acked | resolved.
    Escalation adds recipients to the same page, one policy step at a time (`step`, recipients' `step`).
    Pages stored before policies may have escalation children: `root_id` ties such a chain together.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_due", "status", "escalate_at"),
        Index("ix_notifications_group_key", "group_key"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    root_id: Mapped[int | None] = mapped_column(BigId, index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    source: Mapped[str] = mapped_column(String(16))  # slack | api | alertmanager | escalation
    target: Mapped[str] = mapped_column(String(64))  # group:NAME | U... | +1...
    group_name: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)  # what was asked for
    sms_body: Mapped[str] = mapped_column(Text)  # what is texted
    created_by: Mapped[str | None] = mapped_column(String(64))
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    channel: Mapped[str | None] = mapped_column(String(32))
    slack_outbox_id: Mapped[int | None] = mapped_column(BigId)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    group_key: Mapped[str | None] = mapped_column(Text)  # Alertmanager groupKey
    alert_status: Mapped[str | None] = mapped_column(String(16))  # firing | resolved
    status: Mapped[PageStatus] = mapped_column(State(PAGE_FLOW, 16), default=PageStatus.OPEN)
    acked_by_user: Mapped[str | None] = mapped_column(String(32))
    acked_by_phone: Mapped[str | None] = mapped_column(String(20))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_to: Mapped[str | None] = mapped_column(String(40))
    # The escalation policy the page follows, and the last step it reached (0-based, counting repeats);
    # `escalate_at` is the due time of the next step.
    policy: Mapped[str | None] = mapped_column(String(40))
    step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))  # a Slack user, a phone, or "alertmanager"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationRecipient(Base):
    """One person (or bare number) of a notification and what became of their text (a PageRecipientState)."""

    __tablename__ = "notification_recipients"
    __table_args__ = (UniqueConstraint("notification_id", "position"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    state: Mapped[PageRecipientState] = mapped_column(State(PAGE_RECIPIENT_FLOW, 16))
    reason: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # the policy step that paged them
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OncallOverride(Base):
    """`/sms oncall override SCHEDULE @user UNTIL`: this person is on call for the schedule until `ends_at`."""

    __tablename__ = "notify_oncall_overrides"
    __table_args__ = (Index("ix_notify_oncall_overrides_schedule", "schedule", "ends_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    schedule: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


follow(Notification.status, PAGE_FLOW)
follow(NotificationRecipient.state, PAGE_RECIPIENT_FLOW)
