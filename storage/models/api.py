"""HTTP API tables: keys, messages sent through the API, remembered answers, status callbacks, one-time codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, JSONDoc, State, UTCDateTime, follow, utcnow
from storage.models.core import BigId
from storage.states import OUTBOX_FLOW, VERIFICATION_FLOW, OutboxStatus, VerificationStatus


class ApiKey(Base):
    """A key other systems call the API with. Only the token's SHA-256 is kept; the callback secret signs the
    status callbacks of the messages sent with this key (it is a shared secret, so it is kept as it is)."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))  # comma-separated: messages, verify, notify
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    callback_secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiMessage(Base):
    """A text sent through `POST /api/v1/messages`: what the caller asked for, beside the message it queued."""

    __tablename__ = "api_messages"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # msg_...
    key_name: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    category: Mapped[str] = mapped_column(String(16))  # transactional | marketing
    template: Mapped[str | None] = mapped_column(String(64))
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    metadata_: Mapped[dict] = mapped_column("metadata", JSONDoc, default=dict)
    status_callback: Mapped[str | None] = mapped_column(Text)
    # The API status last reported to the callback (a callback goes out when the status changes).
    reported_status: Mapped[str | None] = mapped_column(String(16))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiIdempotency(Base):
    """The first answer to a POST that carried an `Idempotency-Key`, per key and route."""

    __tablename__ = "api_idempotency"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiCallback(Base):
    """A status callback we owe: the exact body to POST (signed when sent), retried until 2xx or `give_up_at`."""

    __tablename__ = "api_callbacks"
    __table_args__ = (Index("ix_api_callbacks_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    api_message_id: Mapped[str] = mapped_column(ForeignKey("api_messages.id"), index=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    url: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(State(OUTBOX_FLOW, 8), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    give_up_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Verification(Base):
    """A one-time code texted to a number: only a salted SHA-256 of the code is kept."""

    __tablename__ = "verifications"
    __table_args__ = (Index("ix_verifications_phone_created", "phone", "created_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # ver_...
    key_name: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    phone: Mapped[str] = mapped_column(String(20))
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[VerificationStatus] = mapped_column(State(VERIFICATION_FLOW, 24))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


follow(ApiCallback.status, OUTBOX_FLOW)
follow(Verification.status, VERIFICATION_FLOW)
