"""messages indexed by origin, so a campaign's texts are counted without reading its whole recipient list

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_origin", "messages", ["origin", "origin_ref", "status"])


def downgrade() -> None:
    op.drop_index("ix_messages_origin", table_name="messages")
