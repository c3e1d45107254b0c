"""campaigns

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("line_id", BigId, nullable=False),
        sa.Column("audience", sa.String(140), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("send_at", TS, nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("approved_by", sa.String(32), nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("preview", JSONDoc, nullable=False),
        sa.Column("preview_outbox_id", sa.Integer(), nullable=True),
        sa.Column("progress_outbox_id", sa.Integer(), nullable=True),
        sa.Column("progress_text", sa.Text(), nullable=False),
        sa.Column("progress_at", TS, nullable=True),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("exhausted", sa.Boolean(), nullable=False),
        sa.Column("skipped", JSONDoc, nullable=False),
        sa.Column("lease_owner", sa.String(120), nullable=True),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_campaigns_line_id_lines")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index("ix_campaigns_state_send_at", "campaigns", ["state", "send_at"])
    op.create_table(
        "campaign_recipients",
        sa.Column("id", BigId, nullable=False),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("skip_reason", sa.String(32), nullable=True),
        sa.Column("message_id", BigId, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            ondelete="CASCADE",
            name=op.f("fk_campaign_recipients_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_campaign_recipients_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint("campaign_id", "phone", name="uq_campaign_recipients_campaign_phone"),
    )
    op.create_table(
        "campaign_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(20), nullable=True),
        sa.Column("to_state", sa.String(20), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], ondelete="CASCADE", name=op.f("fk_campaign_events_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_events")),
    )
    op.create_index("ix_campaign_events_campaign", "campaign_events", ["campaign_id", "id"])
    op.create_table(
        "campaign_links",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("first_click_at", TS, nullable=True),
        sa.Column("last_click_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], ondelete="CASCADE", name=op.f("fk_campaign_links_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_campaign_links")),
    )
    op.create_index("ix_campaign_links_campaign", "campaign_links", ["campaign_id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_links_campaign", table_name="campaign_links")
    op.drop_table("campaign_links")
    op.drop_index("ix_campaign_events_campaign", table_name="campaign_events")
    op.drop_table("campaign_events")
    op.drop_table("campaign_recipients")
    op.drop_index("ix_campaigns_state_send_at", table_name="campaigns")
    op.drop_table("campaigns")
