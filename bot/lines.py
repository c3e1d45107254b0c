"""The configured lines, mirrored into the database so messages and conversations can refer to them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import LineConfig, Settings
from storage.db import dialect_insert
from storage.models import Line


@dataclass(frozen=True)
class KnownLine:
    id: int
    config: LineConfig


class UnknownLine(LookupError):
    """A row names a line that the settings no longer configure."""


class LineDirectory:
    """Look lines up by id, sender key (number or MG SID) or Slack channel."""

    def __init__(self, lines: list[KnownLine]) -> None:
        self._by_id = {line.id: line for line in lines}
        self._by_key = {line.config.key: line for line in lines}
        self._by_channel = {line.config.channel: line for line in lines}

    def by_id(self, line_id: int) -> KnownLine | None:
        return self._by_id.get(line_id)

    def get(self, line_id: int) -> KnownLine:
        """The line with this id, for rows that name one; UnknownLine when the settings no longer have it."""
        line = self._by_id.get(line_id)
        if line is None:
            raise UnknownLine(f"line {line_id} is not in the settings ([[lines]]); was it removed?")
        return line

    def by_key(self, key: str | None) -> KnownLine | None:
        return self._by_key.get(key or "")

    def by_channel(self, channel: str | None) -> KnownLine | None:
        return self._by_channel.get(channel or "")

    def all(self) -> list[KnownLine]:
        return list(self._by_id.values())


async def sync_lines(session: AsyncSession, settings: Settings) -> LineDirectory:
    """Insert or update a row per configured line (rows of lines no longer configured are kept for history).

    An upsert, so that replicas starting together do not trip over each other's inserts."""
    known = []
    for config in settings.lines:
        values = {
            "channel": config.channel,
            "kind": config.kind,
            "mps": config.mps,
            "brand": config.brand,
            "help_text": config.help_text,
        }
        statement = (
            dialect_insert(session.bind)(Line)
            .values(key=config.key, **values)
            .on_conflict_do_update(index_elements=["key"], set_=values)
            .returning(Line.id)
        )
        known.append(KnownLine(id=(await session.execute(statement)).scalar_one(), config=config))
    return LineDirectory(known)
