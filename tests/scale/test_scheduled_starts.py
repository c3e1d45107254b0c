"""A campaign's start is a due time in its row: every process scans for it on its own scheduler, one starts it.

Two app instances share one database, each with its own scheduler and in-memory job store, on SQLite and on
PostgreSQL; on PostgreSQL also two `sms-bridge serve` replicas (SQLite is served by one process only).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select

from bot.campaigns.worker import CampaignWorker
from bot.carriers.simulator import SimulatorCarrier
from bot.lines import sync_lines
from bot.services import Services
from bot.settings import load_settings
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Line, SlackOutbox
from storage.models.campaigns import Campaign, CampaignEvent
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.support.bridge import A2P_CHANNEL, A2P_LINE, ADMIN, APPROVER, DEFAULT_CONFIG
from tests.support.postgres import create_database_or_skip, drop_database
from tests.support.replicas import Replica, replica_env


async def _schedule_campaign(db: Database, *, in_seconds: float) -> int:
    """An approved campaign (to nobody: the audience is empty) due to start in `in_seconds`."""
    async with db.session() as session:
        line_id = await session.scalar(select(Line.id).where(Line.key == A2P_LINE))
        campaign = Campaign(
            name="spring sale",
            line_id=line_id,
            audience="tag:nobody",
            purpose="transactional",
            template="Spring sale!",
            send_at=datetime.now(UTC) + timedelta(seconds=in_seconds),
            state="scheduled",
            created_by=ADMIN,
            approved_by=APPROVER,
            channel=A2P_CHANNEL,
        )
        session.add(campaign)
        await session.flush()
        return campaign.id


async def _starts(db: Database, campaign_id: int) -> tuple[int, int]:
    """(audit rows saying the campaign started, "starting…" posts queued for Slack)."""
    async with db.session() as session:
        started = await session.scalar(
            select(func.count())
            .select_from(CampaignEvent)
            .where(CampaignEvent.campaign_id == campaign_id, CampaignEvent.action == "started")
        )
        posts = (await session.scalars(select(SlackOutbox.payload).where(SlackOutbox.op == "post"))).all()
    return started, sum(f"Campaign #{campaign_id} spring sale: starting" in p.get("text", "") for p in posts)


class Instance:
    """The campaign worker of one app instance, with its own database pool and its own scheduler."""

    def __init__(self, env: dict[str, str], name: str) -> None:
        settings = load_settings(env)
        self.services = Services(
            settings=settings,
            db=Database(settings.database_url),
            carrier=SimulatorCarrier(),
            slack=AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url),
            worker_id=name,
        )
        self.worker = CampaignWorker(self.services)
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        await upgrade(self.services.db.engine)
        async with self.services.db.session() as session:
            self.services.lines = await sync_lines(session, self.services.settings)
        self.task = asyncio.create_task(self.worker.run())
        self.services.scheduler.start()

    async def stop(self) -> None:
        await self.services.scheduler.stop()
        await self.worker.stop()
        await self.task
        await self.services.db.dispose()


async def test_due_campaign_starts_once_with_two_app_instances(database_url, slack, twilio, tmp_path):
    config = tmp_path / "sms-bridge.toml"
    config.write_text(DEFAULT_CONFIG)
    env = replica_env(database_url=database_url, slack=slack, twilio=twilio, config_path=config)
    instances = [Instance(env, "instance-a"), Instance(env, "instance-b")]
    for instance in instances:
        await instance.start()
    try:
        campaign_id = await _schedule_campaign(instances[0].services.db, in_seconds=1.0)
        assert await _starts(instances[0].services.db, campaign_id) == (0, 0)
        db = instances[1].services.db
        deadline = asyncio.get_running_loop().time() + 10
        while (await _starts(db, campaign_id))[0] == 0:
            assert asyncio.get_running_loop().time() < deadline, "the campaign did not start"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # three more scans of each scheduler: a second start would be written now
        assert await _starts(db, campaign_id) == (1, 1)
        async with db.session() as session:
            assert (await session.get(Campaign, campaign_id)).state in ("running", "completed")
    finally:
        for instance in instances:
            await instance.stop()
    assert not any(instance.services.scheduler.running for instance in instances)


async def test_due_campaign_starts_once_with_two_replicas(tmp_path):
    name = f"sms_bridge_scheduled_{os.getpid()}"
    url = await create_database_or_skip(name)
    slack, twilio = SlackEmulator(), TwilioEmulator()
    await slack.start()
    await twilio.start()
    config = tmp_path / "sms-bridge.toml"
    config.write_text(DEFAULT_CONFIG)
    env = replica_env(database_url=url, slack=slack, twilio=twilio, config_path=config)
    replicas = [Replica(env, tmp_path / f"replica{i}.log") for i in range(2)]
    db = Database(url)
    try:
        await asyncio.gather(*(r.start() for r in replicas))
        await asyncio.gather(*(r.ready() for r in replicas))
        campaign_id = await _schedule_campaign(db, in_seconds=2.0)

        def starting_posts() -> int:
            return sum(
                "spring sale: starting" in str(call.get("text")) for call in slack.method_calls("chat.postMessage")
            )

        await slack.wait_for(lambda: starting_posts() > 0, timeout=30, what="the campaign's progress message")
        await asyncio.sleep(2)  # scans of both replicas: a second start would be posted now
        assert await _starts(db, campaign_id) == (1, 1)
        assert starting_posts() == 1
    finally:
        for replica in replicas:
            await replica.stop()
        await db.dispose()
        await slack.stop()
        await twilio.stop()
        await drop_database(name)
