"""inbound_texts: customers' texts stored before their webhook is answered, until taken into a conversation

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)
JSONDoc = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "inbound_texts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("carrier_sid", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("opt_out", sa.Boolean(), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("messaging_service", sa.String(64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("media", JSONDoc, nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failed_at", UTC, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("carrier_sid", name=op.f("uq_inbound_texts_carrier_sid")),
    )
    op.create_index(op.f("ix_inbound_texts_sender"), "inbound_texts", ["sender"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_inbound_texts_sender"), table_name="inbound_texts")
    op.drop_table("inbound_texts")
