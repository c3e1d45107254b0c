"""Campaign tables (A2P): campaigns, recipients, audit trail, tracked links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, JSONDoc, State, UTCDateTime, follow, utcnow
from storage.models.core import BigId
from storage.states import CAMPAIGN_FLOW, RECIPIENT_FLOW, CampaignState, RecipientStatus


class Campaign(Base):
    """One A2P blast. Its state lives here, so any replica (or a restarted process) can carry it on."""

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_state_send_at", "state", "send_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    audience: Mapped[str] = mapped_column(String(140))  # all | tag:X | list:NAME
    purpose: Mapped[str] = mapped_column(String(16), default="marketing")
    template: Mapped[str] = mapped_column(Text)
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: as soon as approved
    state: Mapped[CampaignState] = mapped_column(State(CAMPAIGN_FLOW, 20), default=CampaignState.DRAFT)
    created_by: Mapped[str] = mapped_column(String(32))
    approved_by: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))  # where the preview and the progress are posted
    preview: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    preview_outbox_id: Mapped[int | None] = mapped_column(Integer)
    progress_outbox_id: Mapped[int | None] = mapped_column(Integer)
    progress_text: Mapped[str] = mapped_column(Text, default="")  # last text pushed, to skip idle updates
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Dispatch position: contacts with id <= cursor have been materialised; exhausted once all are.
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    exhausted: Mapped[bool] = mapped_column(Boolean, default=False)
    skipped: Mapped[dict] = mapped_column(JSONDoc, default=dict)  # reason -> count, at materialisation
    # Which process currently dispatches it (replicas share the database); lapses if that process dies.
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CampaignRecipient(Base):
    """One number of one campaign: queued (with its message) or skipped (with the reason)."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (UniqueConstraint("campaign_id", "phone", name="uq_campaign_recipients_campaign_phone"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(40))
    contact_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[RecipientStatus] = mapped_column(State(RECIPIENT_FLOW, 16))
    skip_reason: Mapped[str | None] = mapped_column(String(32))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CampaignEvent(Base):
    """The audit trail: who did what to a campaign, when."""

    __tablename__ = "campaign_events"
    __table_args__ = (Index("ix_campaign_events_campaign", "campaign_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(32))  # Slack user ID, or "system"
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[CampaignState | None] = mapped_column(State(CAMPAIGN_FLOW, 20))
    to_state: Mapped[CampaignState | None] = mapped_column(State(CAMPAIGN_FLOW, 20))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


follow(Campaign.state, CAMPAIGN_FLOW)
follow(CampaignRecipient.status, RECIPIENT_FLOW)


class CampaignLink(Base):
    """A tracked link: one code per recipient per URL of the text; GET /l/{code} redirects and counts."""

    __tablename__ = "campaign_links"
    __table_args__ = (Index("ix_campaign_links_campaign", "campaign_id"),)
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(Text)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    first_click_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_click_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
