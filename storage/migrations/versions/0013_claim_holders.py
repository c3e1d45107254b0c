"""Who holds a claim, and what is known of a send whose outcome was lost

- messages.claimed_by, slack_outbox.claimed_by: the worker identity (host, pid, start token) that claimed the row,
  so a process on the same host can tell that the holder is gone and take over before the claim lapses.
- messages.outcome_unknown_since: set when the carrier's answer to a send was lost (or its sender died): from
  then the carrier's records are looked at, for a bounded window, before the text is sent again.
- status_events.message_id: the bridge's own message id, read from the status callback URL, so the first
  callback settles a send whose answer was lost.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("claimed_by", sa.String(120), nullable=True))
    op.add_column("messages", sa.Column("outcome_unknown_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("slack_outbox", sa.Column("claimed_by", sa.String(120), nullable=True))
    op.add_column("status_events", sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")))
    op.create_index("ix_status_events_message_id", "status_events", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_status_events_message_id", "status_events")
    with op.batch_alter_table("status_events") as batch:
        batch.drop_column("message_id")
    with op.batch_alter_table("slack_outbox") as batch:
        batch.drop_column("claimed_by")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("outcome_unknown_since")
        batch.drop_column("claimed_by")
