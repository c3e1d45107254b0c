"""parked_replies: Slack thread replies that came before their thread's root was recorded

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)
JSONDoc = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "parked_replies",
        sa.Column("id", BigId, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("user", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("files", JSONDoc, nullable=False),
        sa.Column("parked_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "ts", name="uq_parked_replies_channel_ts"),
    )
    op.create_index("ix_parked_replies_thread", "parked_replies", ["channel", "thread_ts"])


def downgrade() -> None:
    op.drop_index("ix_parked_replies_thread", "parked_replies")
    op.drop_table("parked_replies")
