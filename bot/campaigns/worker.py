"""The campaign worker: previews drafts, starts due campaigns, dispatches running ones, reports progress.

All state is in the database, so a restarted process (or another replica) carries on where this one
stopped; a per-campaign lease keeps two replicas from dispatching the same campaign at once (and the
unique (campaign_id, phone) and message dedupe keys make even that harmless).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import or_, select

from bot.campaigns import service
from bot.services import Services
from storage.models.campaigns import Campaign

log = logging.getLogger(__name__)


class CampaignWorker:
    def __init__(self, services: Services, *, tick: float = 0.25, progress_interval: float = 3.0) -> None:
        self.services = services
        self.tick = tick
        self.progress_interval = progress_interval
        self.wake = asyncio.Event()
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            self.wake.clear()
            busy = False
            try:
                busy = await self.run_once()
            except Exception:  # the database may be briefly away: keep the worker alive
                log.exception("campaigns: worker step failed")
            if busy:
                await asyncio.sleep(0)
                continue
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=self.tick)
            except asyncio.TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping.set()
        self.wake.set()

    async def run_once(self) -> bool:
        """One pass over the campaigns that need something; True when there is more to do right away."""
        services = self.services
        async with services.db.session() as session:
            drafts = list((await session.scalars(select(Campaign.id).where(Campaign.state == "draft"))).all())
        for campaign_id in drafts:
            if self._stopping.is_set():
                return False
            await service.post_preview(services, campaign_id)
        await service.start_due(services)
        async with services.db.session() as session:
            active = list((await session.scalars(
                select(Campaign.id).where(or_(Campaign.state.in_(("running", "paused")),
                                              Campaign.progress_outbox_id.is_not(None)
                                              & Campaign.state.in_(("completed", "cancelled"))
                                              & ~Campaign.progress_text.contains("completed")
                                              & ~Campaign.progress_text.contains("cancelled")))
                .order_by(Campaign.id)
            )).all())
        busy = False
        for campaign_id in active:
            if self._stopping.is_set():
                return False
            if not await service.take_lease(services, campaign_id):
                continue
            read = await service.dispatch_step(services, campaign_id)
            busy = busy or read > 0
            await service.refresh(services, campaign_id, interval=self.progress_interval)
        return busy

    async def on_status(self, session, message) -> None:
        """Status listener: a campaign message moved on, so there may be room to queue more."""
        if message.origin == "campaign":
            self.wake.set()
