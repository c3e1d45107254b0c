"""Apply Alembic migrations from code, safely when several replicas start at once."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed 64-bit number: every replica takes the same PostgreSQL advisory lock around upgrades.
_ADVISORY_LOCK_KEY = 727_001_2024


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to head. On PostgreSQL the upgrade runs under an advisory lock, so concurrent
    starts wait for one another and then find nothing left to do."""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
            await conn.commit()
        try:
            await conn.run_sync(_upgrade_sync)
            await conn.commit()
        finally:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_LOCK_KEY})
                await conn.commit()


def _upgrade_sync(connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


async def is_current(engine: AsyncEngine) -> bool:
    """True when the database schema is at the newest migration."""
    return await current_revision(engine) == head_revision()
