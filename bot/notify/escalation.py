"""Escalation: an unacknowledged page follows its policy's steps, `repeat` times.

The due time of the next step is a column of the page (`escalate_at`), written in the transaction that reached
the step before, so it survives restarts and crashes with no job store to keep consistent. `escalate_due` is a
scan on the process's scheduler (bot.scheduling), each run one indexed query; a step is claimed by a conditional
UPDATE (still open, still at the step read) in the transaction that pages its people, so with
several replicas exactly one fires it, and a crash mid-way rolls the claim back for the next scan.
Time comes from `services.clock`, so tests steer it with a ManualClock.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from bot.notify import service
from bot.notify.service import NotifyError
from bot.services import Services
from storage.db import changed, get_row
from storage.models.notify import Notification
from storage.states import PageStatus

log = logging.getLogger(__name__)

SCAN_SECONDS = 0.5


async def escalate_due(services: Services, *, batch_size: int = 50) -> int:
    """Fire the next step of every open page whose step is due; returns how many steps were fired."""
    now = services.clock.now()
    async with services.db.session() as session:
        due = (
            await session.execute(
                select(Notification.id, Notification.step, Notification.escalate_at)
                .where(Notification.status == PageStatus.OPEN, Notification.escalate_at <= now)
                .order_by(Notification.escalate_at)
                .limit(batch_size)
            )
        ).all()
    done = 0
    for notification_id, step, _due_at in due:
        done += await _next_step(services, notification_id, step)
    return done


def _claim(notification_id: int, step: int):
    """The UPDATE that moves an open page on from `step`: only the first to run it changes the row."""
    return update(Notification).where(
        Notification.id == notification_id, Notification.status == PageStatus.OPEN, Notification.step == step
    )


async def _next_step(services: Services, notification_id: int, step: int) -> int:
    async with services.db.session() as session:
        page = await get_row(session, Notification, notification_id)
    policy = service.policy_of(services, page)
    reached = step + 1
    if policy is None or reached >= policy.total_steps:
        # The policy was removed from the config, or every step has run: nothing more is due.
        async with services.db.session() as session:
            await session.execute(_claim(notification_id, step).values(escalate_at=None))
        if policy is None:
            log.warning("notify: page %s names policy %r, which is not configured: it stops here", page.id, page.policy)
        return 0
    next_step = policy.step(reached)
    try:
        target = service.parse_target(next_step.notify)
        members = await service.resolve(services, target)  # Slack profile look-ups: outside a transaction
    except NotifyError as exc:
        log.warning("notify: page %s step %d (%s) pages nobody: %s", page.id, reached + 1, next_step.notify, exc)
        members = []
    now = services.clock.now()
    following = now + timedelta(minutes=next_step.wait_minutes) if reached + 1 < policy.total_steps else None
    async with services.db.session() as session:
        claimed = await session.execute(
            _claim(notification_id, step).values(
                step=reached, escalate_at=following, escalated_at=now, escalated_to=next_step.notify[:40]
            )
        )
        if changed(claimed) != 1:
            return 0  # acknowledged meanwhile, or another replica fired this step
        page = await get_row(session, Notification, notification_id)
        await session.refresh(page)
        line = services.lines.by_id(page.line_id) or service.paging_line(services)
        await service.page_people(session, services, page, members, line=line, step=reached)
        await service.refresh_slack(session, services, page)
    log.info("notify: page %s reached step %d: %s", notification_id, reached + 1, next_step.notify)
    services.wakeups.poke_sender()
    services.wakeups.poke_outbox()
    return 1
