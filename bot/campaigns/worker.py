"""The campaign worker: previews drafts, starts due campaigns, dispatches running ones, reports progress.

All state is in the database, so a restarted process (or another replica) carries on where this one
stopped; a per-campaign lease keeps two replicas from dispatching the same campaign at once (and the
unique (campaign_id, phone) and message dedupe keys make even that harmless).

Previews of new drafts and the starts of scheduled campaigns are a scan for due rows, every
`housekeeping` seconds on the process's scheduler (bot.scheduling); a start is the conditional move
scheduled -> running, so with several replicas one of them starts a campaign, once.

Dispatch wakes when the sender has recorded a batch (and every `tick` in any case), not for each
sent message: on SQLite every transaction takes the write lock, so waking per message would compete with the
sender it is feeding. A step refills up to about one second of the line's rate (see `service.window_for`).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import or_, select

from bot.campaigns import report, service
from bot.services import Services
from storage.models.campaigns import Campaign
from storage.states import CampaignState

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0


class CampaignWorker:
    def __init__(
        self, services: Services, *, tick: float = 0.2, housekeeping: float = 0.5, progress_interval: float = 3.0
    ) -> None:
        self.services = services
        self.tick = tick
        self.housekeeping = housekeeping
        self.progress_interval = progress_interval
        self.wake = services.wakeups.campaigns
        self._stopping = asyncio.Event()
        self._active: list[int] = []  # running campaigns, and finished ones whose progress is not final yet
        self._leases: dict[int, float] = {}  # campaign id -> loop time our lease needs renewing
        self._last_check: dict[int, float] = {}  # campaign id -> loop time its messages were last counted

    async def run(self) -> None:
        self.services.scheduler.every(self.housekeeping, "campaigns: previews and due starts", self._housekeeping)
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
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping.set()
        self.wake.set()

    async def run_once(self) -> bool:
        """One pass; True when there is more to queue right away."""
        services = self.services
        loop = asyncio.get_running_loop()
        busy = False
        for campaign_id in list(self._active):
            if self._stopping.is_set():
                return False
            if self._leases.get(campaign_id, float("-inf")) <= loop.time():
                if not await service.take_lease(services, campaign_id, LEASE_SECONDS):
                    continue
                self._leases[campaign_id] = loop.time() + LEASE_SECONDS / 3
            read = await service.dispatch_step(services, campaign_id)
            busy = busy or read > 0
            finished = await service.refresh(
                services,
                campaign_id,
                interval=self.progress_interval,
                last_check=self._last_check,
                on_completed=self._post_report,
            )
            if finished and campaign_id in self._active:  # the scan may have listed the campaigns anew meanwhile
                self._active.remove(campaign_id)
                self._last_check.pop(campaign_id, None)
        return busy

    async def _post_report(self, campaign_id: int) -> None:
        """A campaign just completed: post its full report (summary, funnel chart, recipients CSV) in its channel.
        `/sms campaign report ID` posts it again at any time."""
        try:
            await report.publish(self.services, campaign_id, requested_by=None, post=True)
        except Exception:
            log.exception("campaign %s: the completion report could not be built", campaign_id)

    async def _housekeeping(self) -> None:
        services = self.services
        async with services.db.session() as session:
            drafts = list(
                (await session.scalars(select(Campaign.id).where(Campaign.state == CampaignState.DRAFT))).all()
            )
        for campaign_id in drafts:
            if self._stopping.is_set():
                return
            await service.post_preview(services, campaign_id)
        started = await service.start_due(services)
        async with services.db.session() as session:
            self._active = list(
                (
                    await session.scalars(
                        select(Campaign.id)
                        .where(
                            or_(
                                Campaign.state.in_((CampaignState.RUNNING, CampaignState.PAUSED)),
                                Campaign.progress_outbox_id.is_not(None)
                                & Campaign.state.in_((CampaignState.COMPLETED, CampaignState.CANCELLED))
                                & ~Campaign.progress_text.contains("completed")
                                & ~Campaign.progress_text.contains("cancelled"),
                            )
                        )
                        .order_by(Campaign.id)
                    )
                ).all()
            )
        self._last_check = {cid: at for cid, at in self._last_check.items() if cid in self._active}
        if started:
            self.wake.set()  # dispatch them now, not at the next tick
