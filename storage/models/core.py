"""Lines, contacts, conversations, messages, the Slack outbox and processed-event keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, JSONDoc, State, UTCDateTime, follow, utcnow
from storage.states import (
    CONSENT_REQUEST_FLOW,
    CONVERSATION_FLOW,
    MESSAGE_FLOW,
    OUTBOX_FLOW,
    ConsentRequestStatus,
    ConversationStatus,
    MessageStatus,
    OutboxStatus,
)

# Integer primary keys that are BIGINT on PostgreSQL and still autoincrement (ROWID) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Line(Base):
    """A business sender (number or Messaging Service), mirrored from the config file at start-up."""

    __tablename__ = "lines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8), default="p2p")
    mps: Mapped[float] = mapped_column(Float, default=1.0)
    brand: Mapped[str] = mapped_column(Text, default="")
    help_text: Mapped[str] = mapped_column(Text, default="")


class Contact(Base):
    """A phone number we know: name, tags, and whether the carrier told us it cannot take texts."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    # True when whoever wrote `phone` validated it as E.164 (the importers do): campaigns then need not parse it.
    phone_checked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    first_name: Mapped[str] = mapped_column(Text, default="")
    last_name: Mapped[str] = mapped_column(Text, default="")
    # ok | invalid | landline: set from carrier errors; campaigns skip anything but ok.
    number_status: Mapped[str] = mapped_column(String(16), default="ok")
    number_status_reason: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ContactTag(Base):
    __tablename__ = "contact_tags"
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class Conversation(Base):
    """One customer number on one line: one Slack thread, whose root message is the live card."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("line_id", "phone"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    phone: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32), index=True)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_agent: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The inbox: open or resolved, who owns it, since when the current open period runs (time to resolve).
    status: Mapped[ConversationStatus] = mapped_column(
        State(CONVERSATION_FLOW, 16), default=ConversationStatus.OPEN, server_default=ConversationStatus.OPEN.value
    )
    assignee: Mapped[str | None] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The customer's oldest text no agent has answered yet (None: nobody waits); whether this open period had
    # its first answer (time to first answer is measured once per period).
    awaiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_in_period: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # When the unanswered-text alert is due; cleared by an answer, or by the one replica that raises it.
    answer_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The last automatic away text (at most one per conversation per 12 hours).
    away_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConversationEvent(Base):
    """The history of a conversation as an inbox item: assigned, resolved, reopened, answered, alerted.

    `seconds` measures what the event ends (first_answer: the customer's wait; resolved: the open period)."""

    __tablename__ = "conversation_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    kind: Mapped[str] = mapped_column(String(16))  # assigned | resolved | reopened | first_answer | alerted | away
    actor: Mapped[str | None] = mapped_column(String(32))  # the Slack user; None: the customer or the service
    value: Mapped[str | None] = mapped_column(String(64))  # assigned: the new assignee
    seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Snippet(Base):
    """A saved reply, sent by a thread reply that is exactly `!NAME`."""

    __tablename__ = "snippets"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Message(Base):
    """One SMS/MMS, inbound or outbound. Outbound rows are the send intent, stored before the carrier call."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_outbound_queue", "status", "next_attempt_at"),
        Index("ix_messages_phone_created", "phone", "created_at"),
        Index("ix_messages_origin", "origin", "origin_ref", "status"),
        # The sender's queue, in id order: only queued rows, so a claim never walks past the rows already sent.
        Index(
            "ix_messages_queued",
            "id",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    phone: Mapped[str] = mapped_column(String(20))  # the remote party
    body: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list] = mapped_column(JSONDoc, default=list)
    # Idempotency: one row per (kind of origin, origin id), e.g. "twilio:SM..", "slack:C1:1700.1", "campaign:7:+1..".
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    carrier_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[MessageStatus] = mapped_column(State(MESSAGE_FLOW, 16))  # see storage.states
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(Integer, default=1)
    encoding: Mapped[str] = mapped_column(String(8), default="GSM-7")
    purpose: Mapped[str] = mapped_column(String(16), default="conversational")  # conversational|marketing|transactional
    origin: Mapped[str] = mapped_column(String(16))  # customer | slack | campaign | notification | system
    origin_ref: Mapped[str | None] = mapped_column(String(64))
    keyword: Mapped[str | None] = mapped_column(String(16))
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # While "sending": until when the claiming worker owns the row; past it, the row is reconciled.
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(120))  # the claiming worker (bot.liveness identity)
    # Set when the carrier's answer was lost: the start of the window its records are looked at before a resend.
    outcome_unknown_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SlackOutbox(Base):
    """A Slack Web API call we owe. Rows of one channel are performed strictly in id order."""

    __tablename__ = "slack_outbox"
    __table_args__ = (Index("ix_slack_outbox_pending", "status", "channel", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    op: Mapped[str] = mapped_column(String(24))
    payload: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    status: Mapped[OutboxStatus] = mapped_column(State(OUTBOX_FLOW, 8), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(120))  # the claiming worker (bot.liveness identity)
    # Set when a call starts; still set at the next claim means the outcome is unknown (crash, timeout).
    attempt_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    result_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


follow(Message.status, MESSAGE_FLOW)
follow(Conversation.status, CONVERSATION_FLOW)
follow(SlackOutbox.status, OUTBOX_FLOW)


class ProcessedEvent(Base):
    """Keys of deliveries already taken (Slack event_id, ...), so a retried delivery has effect once."""

    __tablename__ = "processed_events"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ParkedReply(Base):
    """A person's Slack thread reply whose thread root was not yet known when it came: Slack can deliver a
    reply to a root the outbox has posted but not yet recorded. It waits here, due again each scan, until the
    root is recorded (then it is answered as any reply) or it is too old to be waiting for one (then it was not a
    customer's thread; bot.conversations.service.PARKED_REPLY_SECONDS)."""

    __tablename__ = "parked_replies"
    __table_args__ = (
        UniqueConstraint("channel", "ts", name="uq_parked_replies_channel_ts"),
        Index("ix_parked_replies_thread", "channel", "thread_ts"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    files: Mapped[list] = mapped_column(JSONDoc, default=list)
    parked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundText(Base):
    """A customer's text as its carrier delivered it: stored, in a commit shared by the webhooks that came
    together, before the webhook is answered; then taken into its conversation (bot.conversations.intake)
    and deleted. One row per carrier id, so a redelivery while it waits is stored once. A text that could
    not be taken keeps its row, with how often, when and why (`attempts`, `failed_at`, `error`). `opt_out`:
    the text is an opt-out keyword; until it is taken, the send gate holds every text to its sender."""

    __tablename__ = "inbound_texts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    carrier_sid: Mapped[str] = mapped_column(String(64), unique=True)
    sender: Mapped[str] = mapped_column(String(64), index=True)  # normalised as conversations store it
    opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    recipient: Mapped[str] = mapped_column(String(64))
    messaging_service: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list] = mapped_column(JSONDoc, default=list)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class Media(Base):
    """Bytes of an outbound MMS attachment, served to the carrier through a signed, expiring link."""

    __tablename__ = "media"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(128))
    filename: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatusEvent(Base):
    """Every delivery receipt as received, stored before it is acknowledged, applied to its message."""

    __tablename__ = "status_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    carrier_sid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[int | None] = mapped_column(Integer)
    # The bridge's message id from the callback URL (?m=): settles a send whose answer from the carrier was lost.
    message_id: Mapped[int | None] = mapped_column(BigId, index=True)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentEvent(Base):
    """The append-only consent ledger. A number's state on a line is its latest event; rows are never changed."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_phone_line", "phone", "line_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"))  # None: every line
    action: Mapped[str] = mapped_column(String(8))  # opt_in | opt_out
    scope: Mapped[str] = mapped_column(String(16), default="all")  # marketing | transactional | all
    source: Mapped[str] = mapped_column(String(16))  # keyword | request | slack | import | api | carrier
    evidence: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str | None] = mapped_column(String(64))
    # The inbound text that carried it (a keyword, a stop request, a YES), when a text did.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentRequest(Base):
    """A customer's consent request waiting for a decision, with its due time.

    kind "opt_out": a text that asks to stop in plain words. While pending it holds all marketing to the number;
    a person confirms or dismisses it in the thread, or it is confirmed automatically at `due_at` (before 10
    business days pass), once across replicas (a conditional UPDATE of `status`).
    kind "join": a line's join keyword on a line with double opt-in, waiting for the number's YES.
    """

    __tablename__ = "consent_requests"
    __table_args__ = (
        Index("ix_consent_requests_due", "status", "due_at"),
        Index("ix_consent_requests_phone", "phone", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # opt_out | join
    phone: Mapped[str] = mapped_column(String(20))
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))  # the inbound text that asked
    status: Mapped[ConsentRequestStatus] = mapped_column(
        State(CONSENT_REQUEST_FLOW, 16), default=ConsentRequestStatus.PENDING
    )
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))  # a Slack user; None: automatically or by a text
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RateSlot(Base):
    """The next free send slot of a rate-limited resource ("line:7", "slack:C0SUPPORT"), shared by replicas."""

    __tablename__ = "rate_slots"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float)  # epoch seconds: plain arithmetic in SQL on both databases


follow(ConsentRequest.status, CONSENT_REQUEST_FLOW)
