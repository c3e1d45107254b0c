"""Escalation: a page nobody acknowledged within `notify.escalation_minutes` pages the next group.

The due time is a column of the notification (`escalate_at`), written in the same transaction as the page, so
it survives restarts and crashes with no job store to keep consistent. `escalate_due` is a scan on the process's
scheduler (bot.scheduling), each run one indexed query; a page is claimed by a conditional UPDATE
(`escalated_at IS NULL AND status = 'open'`) in the transaction that creates the escalation page, so with
several replicas exactly one escalates it, and a crash mid-way rolls the claim back for the next scan.
Time comes from `services.clock`, so tests steer it with a ManualClock.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from bot.notify import service
from bot.notify.service import NotifyError, Target
from bot.services import Services
from storage.db import changed, get_row
from storage.models.notify import Notification
from storage.states import PageStatus

log = logging.getLogger(__name__)

SCAN_SECONDS = 0.5


async def escalate_due(services: Services, *, batch_size: int = 50) -> int:
    """Escalate every open page whose window has passed; returns how many were escalated."""
    now = services.clock.now()
    async with services.db.session() as session:
        due = (
            await session.scalars(
                select(Notification.id)
                .where(
                    Notification.status == PageStatus.OPEN,
                    Notification.escalated_at.is_(None),
                    Notification.escalate_at <= now,
                )
                .order_by(Notification.escalate_at)
                .limit(batch_size)
            )
        ).all()
    done = 0
    for notification_id in due:
        done += await _escalate(services, notification_id)
    return done


async def _escalate(services: Services, notification_id: int) -> int:
    async with services.db.session() as session:
        page = await get_row(session, Notification, notification_id)
    next_group = service.escalation_for(services, page.group_name)
    if next_group is None:
        return 0
    target = Target("group", next_group)
    try:
        members = await service.resolve(services, target)  # Slack profile look-ups: outside a transaction
    except NotifyError as exc:
        log.warning("notify: cannot escalate page %s: %s", notification_id, exc)
        members = []
    now = services.clock.now()
    async with services.db.session() as session:
        claimed = await session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.status == PageStatus.OPEN,
                Notification.escalated_at.is_(None),
            )
            .values(escalated_at=now, escalated_to=next_group)
        )
        if changed(claimed) != 1:
            return 0  # acknowledged meanwhile, or another replica escalated it
        page = await get_row(session, Notification, notification_id)
        await session.refresh(page)
        line = services.lines.by_id(page.line_id) or service.paging_line(services)
        minutes = services.settings.notify.escalation_minutes
        await service.insert(
            session,
            services,
            target=target,
            members=members,
            source="escalation",
            line=line,
            channel=page.channel,
            parent=page,
            created_by=page.created_by,
            text=f"Not acknowledged in {minutes} min by {page.group_name}: {page.text}",
            sms_body=(
                f"[ESCALATED from {page.group_name}] "
                f"{page.sms_body.removesuffix(chr(10) + 'Reply ACK to acknowledge.')}"
            ),
        )
        await service.refresh_slack(session, services, page)
    log.info("notify: page %s escalated to %s", notification_id, next_group)
    services.wakeups.poke_sender()
    services.wakeups.poke_outbox()
    return 1
