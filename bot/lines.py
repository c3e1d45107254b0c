"""The configured lines, mirrored into the database so messages and conversations can refer to them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import LineConfig, Settings
from storage.models import Line


@dataclass(frozen=True)
class KnownLine:
    id: int
    config: LineConfig


class LineDirectory:
    """Look lines up by id, sender key (number or MG SID) or Slack channel."""

    def __init__(self, lines: list[KnownLine]) -> None:
        self._by_id = {line.id: line for line in lines}
        self._by_key = {line.config.key: line for line in lines}
        self._by_channel = {line.config.channel: line for line in lines}

    def by_id(self, line_id: int) -> KnownLine | None:
        return self._by_id.get(line_id)

    def by_key(self, key: str | None) -> KnownLine | None:
        return self._by_key.get(key or "")

    def by_channel(self, channel: str | None) -> KnownLine | None:
        return self._by_channel.get(channel or "")

    def all(self) -> list[KnownLine]:
        return list(self._by_id.values())


async def sync_lines(session: AsyncSession, settings: Settings) -> LineDirectory:
    """Insert or update a row per configured line (rows of lines no longer configured are kept for history)."""
    rows = {row.key: row for row in (await session.scalars(select(Line))).all()}
    known = []
    for config in settings.lines:
        row = rows.get(config.key)
        if row is None:
            row = Line(key=config.key)
            session.add(row)
        row.channel, row.kind, row.mps = config.channel, config.kind, config.mps
        row.brand, row.help_text = config.brand, config.help_text
        await session.flush()
        known.append(KnownLine(id=row.id, config=config))
    return LineDirectory(known)
