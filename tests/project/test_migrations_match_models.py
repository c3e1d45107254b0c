"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base


async def test_migrated_schema_has_no_difference_from_the_models(database_url):
    db = Database(database_url)
    await upgrade(db.engine)
    try:
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
        assert diff == []
    finally:
        await db.dispose()
