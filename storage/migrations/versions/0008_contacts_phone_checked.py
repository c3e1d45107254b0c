"""contacts.phone_checked: the stored phone was validated as E.164 when it was written

A campaign classifies every contact of its audience twice (preview, then dispatch); parsing and validating
a number with phonenumbers was the largest cost of a dispatch step. Rows written before this revision, or by
anything but the importers, stay unchecked and are parsed as before.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("phone_checked", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("phone_checked")
