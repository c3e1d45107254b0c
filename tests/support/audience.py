"""Campaign audiences seeded straight into a database, for tests that run the server as a process."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from storage.db import Database
from storage.migrate import upgrade
from storage.models import ConsentEvent, Contact, utcnow


async def seed_audience(url: str, count: int) -> set[str]:
    """`count` contacts with an opt-in, inserted in bulk (the database is migrated first). Returns their numbers."""
    db = Database(url)
    await upgrade(db.engine)
    phones = [f"+1415{2000000 + i:07d}" for i in range(count)]
    now = utcnow() - timedelta(days=1)
    async with db.session() as session:
        for start in range(0, count, 5000):
            chunk = phones[start : start + 5000]
            await session.execute(
                insert(Contact),
                [
                    {
                        "phone": p,
                        "first_name": "",
                        "last_name": "",
                        "number_status": "ok",
                        "number_status_reason": "",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for p in chunk
                ],
            )
            await session.execute(
                insert(ConsentEvent),
                [
                    {
                        "phone": p,
                        "action": "opt_in",
                        "scope": "all",
                        "source": "import",
                        "evidence": "test",
                        "created_at": now,
                    }
                    for p in chunk
                ],
            )
    await db.dispose()
    return set(phones)
