"""Everything stored, table by table: compared before and after a request that must change nothing."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import Database
from storage.models import Base


async def stored_state(db: Database, *, ignore: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """Every row of every table (but `ignore`d ones), in a stable order."""
    state = {}
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in ignore:
                continue
            rows = (await session.execute(select(table))).all()
            state[table.name] = sorted(tuple(repr(value) for value in row) for row in rows)
    return state


def row_counts(state: dict[str, list[tuple]]) -> dict[str, int]:
    return {name: len(rows) for name, rows in state.items() if rows}
