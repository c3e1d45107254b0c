"""Local mode's workspace on disk: channels, people, messages (reactions included) and files in a SQLite file
beside the bridge's database, so a restarted ``serve`` shows the same Slack as before.

Writes go through aiosqlite (a thread of its own, never the event loop). `flush` writes what the state marked
in ``changed``; the workspace awaits it before it answers the call that made the change, as Slack stores a
message before it says ok.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import aiosqlite
from sqlalchemy.engine import make_url

from bot.local.slack.state import WorkspaceState

log = logging.getLogger(__name__)

WORKSPACE_FILE = "sms-bridge-workspace.db"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS channels (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS files (id TEXT PRIMARY KEY, body TEXT NOT NULL, content BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS messages (channel TEXT NOT NULL, ts TEXT NOT NULL, body TEXT NOT NULL,"
    " PRIMARY KEY (channel, ts))",
)


def workspace_path(database_url: str) -> Path:
    """Where local mode keeps its workspace: beside the bridge's SQLite file (``bridge.db`` ->
    ``bridge-workspace.db``), or ``./sms-bridge-workspace.db`` when the database is not a SQLite file."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        return database.with_name(f"{database.stem}-workspace.db")
    return Path(WORKSPACE_FILE)


class WorkspaceStore:
    """The SQLite file of one workspace."""

    def __init__(self, path: Path, state: WorkspaceState) -> None:
        self.path = path
        self.state = state
        state.track_changes = True
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Open (or create) the file and load what it holds into the state."""
        self._db = db = await aiosqlite.connect(self.path)
        for statement in SCHEMA:
            await db.execute(statement)
        await db.commit()
        await self._load(db)
        self.state.changed.clear()
        log.info("local slack: workspace kept in %s", self.path)

    async def close(self) -> None:
        if self._db is not None:
            await self.flush()
            await self._db.close()
            self._db = None

    async def _load(self, db: aiosqlite.Connection) -> None:
        state = self.state
        async with db.execute("SELECT body FROM users") as rows:
            async for (body,) in rows:
                user = json.loads(body)
                state.users[user["id"]] = user
        async with db.execute("SELECT body FROM channels") as rows:
            async for (body,) in rows:
                channel = json.loads(body)
                state.channels[channel["id"]] = channel
        async with db.execute("SELECT body, content FROM files") as rows:
            async for body, content in rows:
                record = {**json.loads(body), "bytes": bytes(content)}
                state.files[record["id"]] = record
        # ts sorts as text within a channel: ten digits, a dot, six digits
        async with db.execute("SELECT body FROM messages ORDER BY channel, ts") as rows:
            async for (body,) in rows:
                record = json.loads(body)
                record["files"] = [state.files[f] for f in record["files"] if f in state.files]
                state.load_message(record)

    async def flush(self) -> None:
        """Write every change the state recorded since the last flush."""
        db = self._db
        if db is None:
            return
        async with self._lock:
            changed, self.state.changed = self.state.changed, set()
            if not changed:
                return
            try:
                for key in changed:
                    await self._write(db, key)
                await db.commit()
            except BaseException:
                self.state.changed |= changed  # written next time
                raise

    async def _write(self, db: aiosqlite.Connection, key: tuple[str, ...]) -> None:
        kind, state = key[0], self.state
        if kind == "message":
            channel, ts = key[1], key[2]
            record = state.message(channel, ts)
            if record is None:
                await db.execute("DELETE FROM messages WHERE channel = ? AND ts = ?", (channel, ts))
                return
            body = {k: v for k, v in record.items() if k != "delivery"}
            body["files"] = [f["id"] for f in record["files"]]
            await db.execute("REPLACE INTO messages (channel, ts, body) VALUES (?, ?, ?)", (channel, ts, _dump(body)))
        elif kind == "file":
            record = state.files.get(key[1])
            if record is not None:
                body = {k: v for k, v in record.items() if k != "bytes"}
                await db.execute(
                    "REPLACE INTO files (id, body, content) VALUES (?, ?, ?)", (key[1], _dump(body), record["bytes"])
                )
        elif kind in ("channel", "user"):
            record = (state.channels if kind == "channel" else state.users).get(key[1])
            if record is not None:
                await db.execute(f"REPLACE INTO {kind}s (id, body) VALUES (?, ?)", (key[1], _dump(record)))


def _dump(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"))
