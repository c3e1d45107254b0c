"""Alembic environment: runs migrations on the async engine given by `storage.migrate`."""

from __future__ import annotations

from alembic import context

from storage.models import Base

target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `sms-bridge db upgrade` (storage.migrate), not the alembic CLI")
_run(connection)
