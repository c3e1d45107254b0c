"""SQLite's writer turn: one holder at a time, urgent takers before ordinary ones, nothing stuck on cancel."""

from __future__ import annotations

import asyncio

import pytest

from storage.db import WriterTurn


async def _take(turn: WriterTurn, name: str, order: list[str], *, urgent: bool = False) -> None:
    await turn.acquire(urgent=urgent)
    try:
        order.append(name)
        await asyncio.sleep(0)
    finally:
        turn.release()


async def test_urgent_takers_go_before_ordinary_ones_already_waiting():
    turn = WriterTurn()
    order: list[str] = []
    await turn.acquire()  # held: everyone below waits
    waiting = [
        asyncio.create_task(_take(turn, "ordinary 1", order)),
        asyncio.create_task(_take(turn, "ordinary 2", order)),
        asyncio.create_task(_take(turn, "urgent 1", order, urgent=True)),
        asyncio.create_task(_take(turn, "urgent 2", order, urgent=True)),
    ]
    await asyncio.sleep(0.01)
    assert order == []
    turn.release()
    await asyncio.gather(*waiting)
    assert order == ["urgent 1", "urgent 2", "ordinary 1", "ordinary 2"]


async def test_one_holder_at_a_time():
    turn = WriterTurn()
    holding: list[int] = []
    most = 0

    async def hold(i: int) -> None:
        nonlocal most
        await turn.acquire(urgent=i % 3 == 0)
        holding.append(i)
        most = max(most, len(holding))
        await asyncio.sleep(0.001)
        holding.remove(i)
        turn.release()

    await asyncio.gather(*(hold(i) for i in range(30)))
    assert most == 1
    await asyncio.wait_for(turn.acquire(), 1)  # free again


async def test_a_waiter_cancelled_leaves_the_turn_to_the_next():
    turn = WriterTurn()
    order: list[str] = []
    await turn.acquire()
    cancelled = asyncio.create_task(_take(turn, "cancelled", order, urgent=True))
    after = asyncio.create_task(_take(turn, "after", order))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    turn.release()
    await asyncio.wait_for(after, 1)
    assert order == ["after"]


async def test_a_waiter_cancelled_as_it_is_handed_the_turn_passes_it_on():
    turn = WriterTurn()
    order: list[str] = []
    await turn.acquire()
    handed = asyncio.create_task(_take(turn, "handed", order))
    after = asyncio.create_task(_take(turn, "after", order))
    await asyncio.sleep(0.01)
    turn.release()  # "handed" now holds the turn, but has not run yet
    handed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handed
    await asyncio.wait_for(after, 1)
    assert order == ["after"]
