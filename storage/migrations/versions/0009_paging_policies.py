"""paging: escalation policy steps on a page, who was paged at each step, resolve, on-call overrides

A page runs its escalation policy in place: `step` is the last step reached (0-based, counting repeats),
`escalate_at` the durable due time of the next one, and each recipient row names the step that paged it.
`notify_oncall_overrides` holds the hand-made overrides of `[[schedules]]` rotations.

Revision ID: 0013
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("policy", sa.String(40), nullable=True))
        batch.add_column(sa.Column("step", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("resolved_at", UTC, nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.String(64), nullable=True))
    op.create_index("ix_notifications_group_key", "notifications", ["group_key"])
    with op.batch_alter_table("notification_recipients") as batch:
        batch.add_column(sa.Column("step", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "notify_oncall_overrides",
        sa.Column("id", BigId, nullable=False),
        sa.Column("schedule", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("starts_at", UTC, nullable=False),
        sa.Column("ends_at", UTC, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_oncall_overrides")),
    )
    op.create_index("ix_notify_oncall_overrides_schedule", "notify_oncall_overrides", ["schedule", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_notify_oncall_overrides_schedule", table_name="notify_oncall_overrides")
    op.drop_table("notify_oncall_overrides")
    with op.batch_alter_table("notification_recipients") as batch:
        batch.drop_column("step")
    op.drop_index("ix_notifications_group_key", table_name="notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("resolved_by")
        batch.drop_column("resolved_at")
        batch.drop_column("step")
        batch.drop_column("policy")
