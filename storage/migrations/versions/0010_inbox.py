"""the inbox: conversation status, assignee and their history; waiting, alert and away times; snippets; notes

Revision ID: 0012
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("contacts", sa.Column("notes", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="open"))
        batch.add_column(sa.Column("assignee", sa.String(32), nullable=True))
        batch.add_column(sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("awaiting_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("answered_in_period", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("answer_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("away_sent_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE conversations SET opened_at = created_at")
    with op.batch_alter_table("conversations") as batch:
        batch.alter_column("opened_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_index("ix_conversations_answer_due_at", ["answer_due_at"])
    op.create_table(
        "conversation_events",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("conversation_id", BigId, sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("line_id", BigId, sa.ForeignKey("lines.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(32), nullable=True),
        sa.Column("value", sa.String(64), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversation_events_conversation_id", "conversation_events", ["conversation_id"])
    op.create_table(
        "snippets",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("snippets")
    op.drop_index("ix_conversation_events_conversation_id", table_name="conversation_events")
    op.drop_table("conversation_events")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_answer_due_at")
        for column in (
            "away_sent_at",
            "answer_due_at",
            "answered_in_period",
            "awaiting_since",
            "opened_at",
            "assignee",
            "status",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("notes")
