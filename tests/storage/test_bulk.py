"""Rows written and looked up through one JSON (or array) parameter read back as the ORM wrote them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from storage.bulk import among, insert_rows, update_rows
from storage.models import Line, Message

MESSAGES = Message.__table__


async def _line(database) -> int:
    async with database.session() as session:
        line = Line(key="+14155550100", channel="C0SUPPORT", kind="a2p")
        session.add(line)
        await session.flush()
        return line.id


def _row(line_id: int, n: int, **extra) -> dict:
    return {
        "line_id": line_id,
        "direction": "out",
        "phone": f"+1212555{n:04d}",
        "status": "queued",
        "origin": "campaign",
        "dedupe_key": f"k{n}",
        **extra,
    }


async def test_insert_rows_fills_defaults_keeps_types_and_skips_conflicts(database):
    line_id = await _line(database)
    later = datetime(2030, 1, 2, 3, 4, 5, 600700, tzinfo=UTC)
    before = datetime.now(UTC)
    async with database.session() as session:
        result = await insert_rows(
            session,
            MESSAGES,
            [
                _row(
                    line_id,
                    1,
                    body="Héllo \"quoted\" 'single' ✓\nline two",
                    media=[{"media_id": 7, "name": "a b"}],
                    next_attempt_at=None,
                ),
                _row(line_id, 2, body="second", media=[], next_attempt_at=later),
            ],
            on_conflict_do_nothing=["dedupe_key"],
            returning=(MESSAGES.c.id, MESSAGES.c.dedupe_key),
        )
        ids = {key: message_id for message_id, key in result.all()}
    assert set(ids) == {"k1", "k2"}
    async with database.session() as session:
        with pytest.raises(ValueError, match="same fields"):
            await insert_rows(session, MESSAGES, [_row(line_id, 8), _row(line_id, 9, body="x")])
    async with database.session() as session:
        again = await insert_rows(
            session,
            MESSAGES,
            [_row(line_id, 2, body="other"), _row(line_id, 3, body="third")],
            on_conflict_do_nothing=["dedupe_key"],
            returning=(MESSAGES.c.dedupe_key,),
        )
        assert again.scalars().all() == ["k3"]
    async with database.session() as session:
        first, second, third = (await session.scalars(select(Message).order_by(Message.id))).all()
        due_later = (
            await session.scalars(
                select(Message.dedupe_key).where(Message.next_attempt_at > later - timedelta(microseconds=1))
            )
        ).all()
    assert first.body == "Héllo \"quoted\" 'single' ✓\nline two"
    assert first.media == [{"media_id": 7, "name": "a b"}]
    assert second.body == "second" and second.next_attempt_at == later
    assert due_later == ["k2"]  # stored in the form queries compare against
    assert third.body == "third"  # the clashing row was skipped, not merged
    for message in (first, second, third):
        assert message.attempts == 0 and message.segments == 1 and message.purpose == "conversational"
        assert before <= message.created_at <= datetime.now(UTC)
    assert third.media == []


async def test_update_rows_sets_each_rows_fields_and_the_shared_values(database):
    line_id = await _line(database)
    async with database.session() as session:
        await insert_rows(session, MESSAGES, [_row(line_id, n, status="sending") for n in range(1, 5)])
    async with database.session() as session:
        ids = (await session.scalars(select(Message.id).order_by(Message.id))).all()
        stamped = (await session.scalars(select(Message.updated_at).order_by(Message.id))).all()
    sent_at = datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC)
    async with database.session() as session:
        updated = await update_rows(
            session,
            MESSAGES,
            [{"id": ids[0], "carrier_sid": "SM1"}, {"id": ids[2], "carrier_sid": "SM3"}],
            status="sent",
            sent_at=sent_at,
            claim_until=None,
        )
    assert updated == 2
    async with database.session() as session:
        rows = (await session.scalars(select(Message).order_by(Message.id))).all()
    assert [(m.status, m.carrier_sid, m.sent_at) for m in rows] == [
        ("sent", "SM1", sent_at),
        ("sending", None, None),
        ("sent", "SM3", sent_at),
        ("sending", None, None),
    ]
    assert rows[0].updated_at > stamped[0] and rows[1].updated_at == stamped[1]


async def test_among_matches_the_given_values_only(database):
    line_id = await _line(database)
    async with database.session() as session:
        await insert_rows(session, MESSAGES, [_row(line_id, n) for n in range(1, 6)])
    async with database.session() as session:
        wanted = {"+12125550002", "+12125550004", "+19999999999"}
        found = (
            await session.scalars(
                select(Message.phone).where(among(session, Message.phone, wanted)).order_by(Message.phone)
            )
        ).all()
        none = (await session.scalars(select(Message.phone).where(among(session, Message.phone, set())))).all()
    assert found == ["+12125550002", "+12125550004"]
    assert none == []
