"""The states rows move through, and the moves allowed between them: one table per kind of row.

Models store these values (the strings are the database's, unchanged); code that moves a row from one state to
another goes through its flow: `Flow.check` for a row in hand (the models call it on every assignment), and
`Flow.where` for the condition of a conditional UPDATE. A move the table does not list cannot be written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy.orm import QueryableAttribute

S = TypeVar("S", bound=StrEnum)


class MessageStatus(StrEnum):
    """An SMS/MMS. Inbound: received. Outbound: queued until the sender claims it (sending), then what the carrier
    made of it; held while its campaign is paused, cancelled with its campaign, blocked by the send gate."""

    RECEIVED = "received"
    QUEUED = "queued"
    HELD = "held"
    SENDING = "sending"
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"


class CampaignState(StrEnum):
    """draft -> pending_approval -> scheduled -> running <-> paused -> completed | cancelled."""

    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class RecipientStatus(StrEnum):
    """A number of a campaign, as materialised: queued (with its message) or skipped (with the reason)."""

    QUEUED = "queued"
    SKIPPED = "skipped"


class OutboxStatus(StrEnum):
    """A Slack call we owe: pending until performed (done) or refused for good (failed)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class PageStatus(StrEnum):
    """A notification (page): open (may be acknowledged, may escalate), acked, or resolved (by a person or
    Alertmanager); an acknowledged page may still be resolved."""

    OPEN = "open"
    ACKED = "acked"
    RESOLVED = "resolved"


class PageRecipientState(StrEnum):
    """What became of one person's text of a page (follows the status of its message)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    BLOCKED = "blocked"
    NO_PHONE = "no_phone"


class VerificationStatus(StrEnum):
    """A one-time code sent by the API: pending until checked right (approved), out of time (expired), checked
    wrong too often (max_attempts_reached), or replaced by a newer code for the same number (expired)."""

    PENDING = "pending"
    APPROVED = "approved"
    EXPIRED = "expired"
    MAX_ATTEMPTS_REACHED = "max_attempts_reached"


class ConversationStatus(StrEnum):
    """A conversation thread as an inbox item: open until an agent resolves it; a customer text reopens it."""

    OPEN = "open"
    RESOLVED = "resolved"


class IllegalTransition(ValueError):
    """A row was asked to move between two states its flow does not connect."""


class Flow(Generic[S]):
    """The states of one kind of row and the moves allowed between them. A new row may start in any state."""

    def __init__(self, states: type[S], moves: Mapping[S, Iterable[S]]) -> None:
        self.states = states
        self.moves: dict[S, frozenset[S]] = {state: frozenset(moves.get(state, ())) for state in states}

    def state(self, value: str) -> S:
        """The member for a stored value; ValueError naming the allowed values for anything else."""
        try:
            return self.states(value)
        except ValueError:
            allowed = ", ".join(self.states)
            raise ValueError(f"{value!r} is not a {self.states.__name__} (one of {allowed})") from None

    def allows(self, old: str, new: str) -> bool:
        """Whether a row in `old` may move to `new` (staying put is not a move)."""
        return self.state(new) in self.moves[self.state(old)]

    def check(self, old: str | None, new: str) -> S:
        """`new` as a member, if a row in `old` (None: a new row) may take it; IllegalTransition otherwise."""
        target = self.state(new)
        if old is None or old == target or target in self.moves[self.state(old)]:
            return target
        raise IllegalTransition(f"{self.states.__name__}: {old} -> {new} is not an allowed move")

    def where(
        self, column: ColumnElement | QueryableAttribute, old: str | Iterable[str], new: str
    ) -> ColumnElement[bool]:
        """The condition of a conditional UPDATE that moves rows from `old` (one state or several) to `new`."""
        olds = [old] if isinstance(old, str) else list(old)
        for state in olds:
            self.check(state, new)
        return column == olds[0] if len(olds) == 1 else column.in_(olds)

    def terminal(self) -> frozenset[S]:
        """The states no row leaves."""
        return frozenset(state for state, targets in self.moves.items() if not targets)


MESSAGE_FLOW = Flow(
    MessageStatus,
    {
        MessageStatus.QUEUED: {MessageStatus.SENDING, MessageStatus.HELD, MessageStatus.CANCELLED},
        MessageStatus.HELD: {MessageStatus.QUEUED, MessageStatus.CANCELLED},
        # Claimed: the carrier's answer; back to queued to retry, defer or after reconciliation; or the gate's block.
        MessageStatus.SENDING: {MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.QUEUED, MessageStatus.BLOCKED},
        # Delivery receipts, which may come out of order: never back to an earlier state.
        MessageStatus.ACCEPTED: {
            MessageStatus.SENT,
            MessageStatus.DELIVERED,
            MessageStatus.UNDELIVERED,
            MessageStatus.FAILED,
        },
        MessageStatus.SENT: {MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED},
        MessageStatus.DELIVERED: {MessageStatus.UNDELIVERED, MessageStatus.FAILED},
    },
)

CAMPAIGN_FLOW = Flow(
    CampaignState,
    {
        CampaignState.DRAFT: {CampaignState.PENDING_APPROVAL, CampaignState.CANCELLED},
        CampaignState.PENDING_APPROVAL: {CampaignState.SCHEDULED, CampaignState.CANCELLED},
        CampaignState.SCHEDULED: {CampaignState.RUNNING, CampaignState.CANCELLED},
        CampaignState.RUNNING: {CampaignState.PAUSED, CampaignState.COMPLETED, CampaignState.CANCELLED},
        CampaignState.PAUSED: {CampaignState.RUNNING, CampaignState.CANCELLED},
    },
)

RECIPIENT_FLOW = Flow(RecipientStatus, {})  # written once, when the number is materialised

OUTBOX_FLOW = Flow(OutboxStatus, {OutboxStatus.PENDING: {OutboxStatus.DONE, OutboxStatus.FAILED}})

PAGE_FLOW = Flow(
    PageStatus,
    {PageStatus.OPEN: {PageStatus.ACKED, PageStatus.RESOLVED}, PageStatus.ACKED: {PageStatus.RESOLVED}},
)

PAGE_RECIPIENT_FLOW = Flow(
    PageRecipientState,
    {
        PageRecipientState.QUEUED: {
            PageRecipientState.SENT,
            PageRecipientState.DELIVERED,
            PageRecipientState.FAILED,
            PageRecipientState.BLOCKED,
        },
        PageRecipientState.SENT: {PageRecipientState.DELIVERED, PageRecipientState.FAILED},
        PageRecipientState.DELIVERED: {PageRecipientState.FAILED},
    },
)

VERIFICATION_FLOW = Flow(
    VerificationStatus,
    {
        VerificationStatus.PENDING: {
            VerificationStatus.APPROVED,
            VerificationStatus.EXPIRED,
            VerificationStatus.MAX_ATTEMPTS_REACHED,
        },
    },
)

CONVERSATION_FLOW = Flow(
    ConversationStatus,
    {
        ConversationStatus.OPEN: {ConversationStatus.RESOLVED},
        ConversationStatus.RESOLVED: {ConversationStatus.OPEN},
    },
)
