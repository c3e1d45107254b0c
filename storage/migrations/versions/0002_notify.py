"""team notifications

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notify_roster",
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("added_by", sa.String(32), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notify_roster")),
    )
    op.create_table(
        "notify_group_members",
        sa.Column("group_name", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("added_by", sa.String(32), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("group_name", "user_id", name=op.f("pk_notify_group_members")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", BigId, nullable=False),
        sa.Column("root_id", BigId, nullable=True),
        sa.Column("parent_id", BigId, nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("group_name", sa.String(40), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sms_body", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("line_id", BigId, nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("slack_outbox_id", BigId, nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("group_key", sa.Text(), nullable=True),
        sa.Column("alert_status", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("acked_by_user", sa.String(32), nullable=True),
        sa.Column("acked_by_phone", sa.String(20), nullable=True),
        sa.Column("acked_at", UTC, nullable=True),
        sa.Column("escalate_at", UTC, nullable=True),
        sa.Column("escalated_at", UTC, nullable=True),
        sa.Column("escalated_to", sa.String(40), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_notifications_line_id_lines")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["notifications.id"], name=op.f("fk_notifications_parent_id_notifications")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notifications_idempotency_key")),
    )
    op.create_index("ix_notifications_due", "notifications", ["status", "escalate_at"])
    op.create_index(op.f("ix_notifications_root_id"), "notifications", ["root_id"])
    op.create_table(
        "notification_recipients",
        sa.Column("id", BigId, nullable=False),
        sa.Column("notification_id", BigId, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("message_id", BigId, nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            ondelete="CASCADE",
            name=op.f("fk_notification_recipients_notification_id_notifications"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_notification_recipients_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_recipients")),
        sa.UniqueConstraint("notification_id", "position", name=op.f("uq_notification_recipients_notification_id")),
    )
    op.create_index(op.f("ix_notification_recipients_notification_id"), "notification_recipients", ["notification_id"])
    op.create_index(op.f("ix_notification_recipients_phone"), "notification_recipients", ["phone"])
    op.create_index(op.f("ix_notification_recipients_message_id"), "notification_recipients", ["message_id"])


def downgrade() -> None:
    op.drop_table("notification_recipients")
    op.drop_index("ix_notifications_due", table_name="notifications")
    op.drop_index(op.f("ix_notifications_root_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("notify_group_members")
    op.drop_table("notify_roster")
