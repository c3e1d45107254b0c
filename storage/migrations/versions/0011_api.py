"""the HTTP API: keys, messages sent through it, remembered answers, status callbacks, one-time codes

Revision ID: 0011
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)
JSONDoc = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("callback_secret", sa.String(64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_used_at", UTC, nullable=True),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("name", name=op.f("uq_api_keys_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_keys_token_hash")),
    )
    op.create_table(
        "api_messages",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("key_name", sa.String(64), nullable=False),
        sa.Column("key_id", BigId, nullable=True),
        sa.Column("message_id", BigId, nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("template", sa.String(64), nullable=True),
        sa.Column("send_at", UTC, nullable=True),
        sa.Column("metadata", JSONDoc, nullable=False),
        sa.Column("status_callback", sa.Text(), nullable=True),
        sa.Column("reported_status", sa.String(16), nullable=True),
        sa.Column("delivered_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name=op.f("fk_api_messages_key_id_api_keys")),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_api_messages_message_id_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_api_messages_message_id")),
    )
    op.create_table(
        "api_idempotency",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", JSONDoc, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_api_idempotency")),
    )
    op.create_table(
        "api_callbacks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("api_message_id", sa.String(32), nullable=False),
        sa.Column("key_id", BigId, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("claim_until", UTC, nullable=True),
        sa.Column("give_up_at", UTC, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["api_message_id"], ["api_messages.id"], name=op.f("fk_api_callbacks_api_message_id_api_messages")
        ),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name=op.f("fk_api_callbacks_key_id_api_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_callbacks")),
    )
    with op.batch_alter_table("api_callbacks") as batch_op:
        batch_op.create_index("ix_api_callbacks_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_callbacks_api_message_id"), ["api_message_id"], unique=False)
    op.create_table(
        "verifications",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("key_name", sa.String(64), nullable=False),
        sa.Column("line_id", BigId, nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("salt", sa.String(32), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message_id", BigId, nullable=True),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_verifications_line_id_lines")),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_verifications_message_id_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
    )
    with op.batch_alter_table("verifications") as batch_op:
        batch_op.create_index("ix_verifications_phone_created", ["phone", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("verifications")
    op.drop_table("api_callbacks")
    op.drop_table("api_idempotency")
    op.drop_table("api_messages")
    op.drop_table("api_keys")
