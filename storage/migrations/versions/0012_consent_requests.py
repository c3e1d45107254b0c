"""consent_requests (stop requests in plain words, double opt-in joins) and consent_events.message_id

A stop request in plain words holds marketing at once and waits for a person's decision or its due time (before
10 business days pass); a join keyword on a double opt-in line waits for the number's YES. Each consent event may
name the inbound text that carried it, for the evidence export.

Revision ID: 0010
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "consent_requests",
        sa.Column("id", BigId, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("line_id", BigId, nullable=False),
        sa.Column("conversation_id", BigId, nullable=True),
        sa.Column("message_id", BigId, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_consent_requests_line_id_lines")),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_consent_requests_conversation_id_conversations")
        ),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_consent_requests_message_id_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_requests")),
    )
    op.create_index("ix_consent_requests_due", "consent_requests", ["status", "due_at"])
    op.create_index("ix_consent_requests_phone", "consent_requests", ["phone", "status"])
    with op.batch_alter_table("consent_events") as batch:
        batch.add_column(sa.Column("message_id", BigId, nullable=True))
        batch.create_foreign_key(op.f("fk_consent_events_message_id_messages"), "messages", ["message_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("consent_events") as batch:
        batch.drop_constraint(op.f("fk_consent_events_message_id_messages"), type_="foreignkey")
        batch.drop_column("message_id")
    op.drop_index("ix_consent_requests_phone", table_name="consent_requests")
    op.drop_index("ix_consent_requests_due", table_name="consent_requests")
    op.drop_table("consent_requests")
