"""INSERT … ON CONFLICT statements are compiled once per shape, and each execution sends its own values."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, select

from storage.db import dialect_insert
from storage.models import Line, ProcessedEvent


@contextmanager
def cache_hits(database):
    """Whether each statement the engine runs meanwhile came from SQLAlchemy's compiled-statement cache."""
    hits: list[bool] = []

    def record(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("INSERT"):
            hits.append(str(context.cache_hit).endswith("CACHE_HIT"))

    engine = database.engine.sync_engine
    event.listen(engine, "after_cursor_execute", record)
    try:
        yield hits
    finally:
        event.remove(engine, "after_cursor_execute", record)


async def test_do_nothing_is_compiled_once_and_binds_each_executions_values(database):
    async with database.session() as session:
        insert = dialect_insert(session.bind)
        with cache_hits(database) as hits:
            for key in ("first", "second", "first"):
                statement = insert(ProcessedEvent).values(key=key).on_conflict_do_nothing()
                await session.execute(statement.returning(ProcessedEvent.key))
        keys = sorted((await session.scalars(select(ProcessedEvent.key))).all())
    assert keys == ["first", "second"]  # the third clashed and was skipped; the second was not the first again
    assert hits == [False, True, True]


async def test_targets_differ_in_the_cache_key(database):
    """Two DO NOTHING clauses that name different columns are different statements, each rendered as written."""
    sent: list[str] = []
    engine = database.engine.sync_engine
    listener = lambda conn, cursor, statement, *rest: sent.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        async with database.session() as session:
            insert = dialect_insert(session.bind)
            for target, key in (([Line.key], "+14155550100"), (["id"], "+14155550101"), ([Line.key], "+14155550100")):
                statement = insert(Line).values(key=key, channel="C1", kind="p2p")
                await session.execute(statement.on_conflict_do_nothing(index_elements=target))
            assert sorted((await session.scalars(select(Line.key))).all()) == ["+14155550100", "+14155550101"]
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    conflicts = [s.split("ON CONFLICT")[1].split()[0].replace('"', "") for s in sent if "ON CONFLICT" in s]
    assert conflicts == ["(key)", "(id)", "(key)"]


async def test_do_update_sends_each_executions_values(database):
    """DO UPDATE binds its SET values as it is compiled: it stays out of the cache, so none is sent twice."""
    async with database.session() as session:
        insert = dialect_insert(session.bind)
        for channel in ("C1", "C2"):
            statement = insert(Line).values(key="+14155550100", channel=channel, kind="p2p")
            await session.execute(statement.on_conflict_do_update(index_elements=["key"], set_={"channel": channel}))
        assert (await session.scalars(select(Line.channel))).all() == ["C2"]
