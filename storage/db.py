"""The database: one async engine and session factory per process, SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TypeVar, cast

from asyncpg.exceptions import OperatorInterventionError, PostgresConnectionError
from sqlalchemy import event, text
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.upsert import PostgresInsert, SqliteInsert

M = TypeVar("M")


class DatabaseInUse(RuntimeError):
    """Another process already serves this SQLite database."""


_holding_turn: ContextVar[bool] = ContextVar("holding_sqlite_turn", default=False)


class WriterTurn:
    """SQLite's one write transaction at a time, taken in the order asked, except that an urgent taker (a
    webhook waiting to be answered) goes before every ordinary one still waiting."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future] = deque()
        self._ordinary: deque[asyncio.Future] = deque()

    async def acquire(self, *, urgent: bool = False) -> None:
        """Wait for the turn; it is this task's until `release()`."""
        if not self._held and not self._urgent and not self._ordinary:
            self._held = True
            return
        waiter = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._ordinary
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the turn just as it was cancelled: pass it on
            else:
                queue.remove(waiter)
            raise

    def release(self) -> None:
        """Hand the turn to the next waiter (urgent ones first), or free it."""
        for queue in (self._urgent, self._ordinary):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the turn passes on still held
                    return
        self._held = False


class Database:
    """Owns the engine. `session()` yields a session whose transaction commits on success."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: AsyncEngine = _create_engine(url, echo=echo)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite runs one write transaction at a time (every transaction here begins IMMEDIATE). Queueing
        # them on an asyncio lock lets them wait their turn in the event loop, instead of in SQLite's
        # busy handler, which sleeps in steps of up to 100 ms.
        self.is_sqlite = url.startswith("sqlite")
        self._turn: WriterTurn | None = WriterTurn() if self.is_sqlite else None
        # Send-rate slots of a SQLite database, by key (see bot.ratelimit.reserve): one process serves it.
        self.local_slots: dict[str, float] = {}
        self._server_lock: int | None = None

    @asynccontextmanager
    async def session(self, *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        """A unit of work: commit when the block ends normally, roll back otherwise. `urgent`: on SQLite,
        take the writer's turn before the ordinary transactions waiting for it (someone waits on this one)."""
        if self._turn is None or _holding_turn.get():
            async with self.sessions() as session:
                async with session.begin():
                    yield session
            return
        await self._turn.acquire(urgent=urgent)
        token = _holding_turn.set(True)
        try:
            async with self.sessions() as session:
                async with session.begin():
                    yield session
        finally:
            _holding_turn.reset(token)
            self._turn.release()

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one atomic statement that commits by itself: on PostgreSQL a single round
        trip, without BEGIN and COMMIT. On SQLite it waits its turn and commits like a session."""
        if self._turn is None:
            async with self.engine.connect() as conn:
                yield await conn.execution_options(isolation_level="AUTOCOMMIT")
            return
        async with self.session() as session:
            yield await session.connection()

    def hold_single_server(self) -> None:
        """On SQLite, make this the one process serving the database (until it exits): a second server on the
        same file would keep its own send rates and exceed the carrier's. Raises DatabaseInUse naming the
        file when another process holds it. On PostgreSQL, replicas share rates in the database: no-op."""
        if not self.is_sqlite or self._server_lock is not None:
            return
        path = self.engine.url.database
        if not path or path == ":memory:":
            return
        fd = os.open(f"{path}.server-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DatabaseInUse(
                f"another sms-bridge process is serving the SQLite database {path}; SQLite is "
                "served by one process (use PostgreSQL to run replicas)"
            ) from None
        self._server_lock = fd

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._server_lock is not None:
            os.close(self._server_lock)  # closing the descriptor releases the lock
            self._server_lock = None


def storage_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached right now (down, restarting, connection lost), as
    opposed to a statement that failed: the first is worth retrying shortly, the second is not."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated
    # Raised unwrapped while the pool opens a connection: refused, timed out, or PostgreSQL starting/stopping.
    return isinstance(exc, (ConnectionError, TimeoutError, OperatorInterventionError, PostgresConnectionError))


class RowMissing(LookupError):
    """A row that the caller holds the id of is not in the database (deleted, or the id came from elsewhere)."""


async def get_row(session: AsyncSession, model: type[M], key: object, **options) -> M:
    """The row of `model` with primary key `key` (`options` as for session.get); RowMissing, naming both, when
    there is none."""
    row = await session.get(model, key, **options)
    if row is None:
        raise RowMissing(f"no {model.__name__} with id {key!r}")
    return row


def changed(result: Result) -> int:
    """The number of rows an UPDATE or DELETE matched (a DML statement's result is a CursorResult)."""
    return cast(CursorResult, result).rowcount


def dialect_insert(bind):
    """The INSERT construct with ON CONFLICT clauses for this session's (or engine's) database (storage.upsert:
    one that the statement cache keeps)."""
    return insert_for(bind.dialect.name)


def insert_for(dialect: str):
    """The INSERT construct with ON CONFLICT clauses for a database kind (`session.bind.dialect.name`)."""
    return PostgresInsert if dialect == "postgresql" else SqliteInsert


def _create_engine(url: str, *, echo: bool) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        # Let SQLAlchemy issue BEGIN itself so write transactions lock up front (BEGIN IMMEDIATE).
        event.listen(engine.sync_engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    # No pre-ping (a round trip per checkout): when PostgreSQL restarts, the first statement on a dead
    # connection fails as a disconnect, SQLAlchemy invalidates the whole pool, and callers retry.
    return create_async_engine(url, echo=echo, pool_size=20, max_overflow=10)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # pysqlite's own transaction handling would defer BEGIN; we issue BEGIN IMMEDIATE in the "begin" hook.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
