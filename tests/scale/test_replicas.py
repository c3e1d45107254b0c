"""Three replicas on one PostgreSQL: shared work, a global rate, one replica SIGKILLed mid-campaign.

Replicas need PostgreSQL (row claiming with SKIP LOCKED, advisory locks); SQLite is one process only,
so these tests run on PostgreSQL alone.
"""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import text

from storage.db import Database
from storage.migrate import head_revision, upgrade
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.support.audience import seed_audience
from tests.support.bridge import A2P_CHANNEL, A2P_LINE, ADMIN, APPROVER, DEFAULT_CONFIG
from tests.support.postgres import create_database_or_skip, drop_database
from tests.support.replicas import Replica, replica_env
from tests.support.timing import no_collector_pauses

RECIPIENTS = int(os.environ.get("REPLICA_TEST_RECIPIENTS", "20000"))
MPS = 400


async def test_replicas_starting_at_once_migrate_safely(tmp_path):
    name = f"sms_bridge_migrate_{os.getpid()}"
    url = await create_database_or_skip(name)
    try:
        databases = [Database(url) for _ in range(4)]
        await asyncio.gather(*(upgrade(db.engine) for db in databases))
        async with databases[0].engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert versions == [head_revision()]
        for db in databases:
            await db.dispose()
    finally:
        await drop_database(name)


async def test_three_replicas_one_killed_text_everyone_exactly_once_within_the_rate(tmp_path):
    name = f"sms_bridge_replicas_{os.getpid()}"
    url = await create_database_or_skip(name)
    slack, twilio = SlackEmulator(), TwilioEmulator(auto_status=None)
    await slack.start()
    await twilio.start()
    config = tmp_path / "sms-bridge.toml"
    config.write_text(DEFAULT_CONFIG.replace("mps = 50", f"mps = {MPS}"))
    replicas: list[Replica] = []
    try:
        audience = await seed_audience(url, RECIPIENTS)
        env = replica_env(database_url=url, slack=slack, twilio=twilio, config_path=config)
        # The texts the killed replica had claimed but not yet offered to Twilio wait for this window (Twilio's
        # list cannot tell them from texts it has not listed yet): short, so they go out within the test.
        env["RECONCILE_WINDOW_SECONDS"] = "15"
        replicas = [Replica(env, tmp_path / f"replica{i}.log") for i in range(3)]
        await asyncio.gather(*(r.start() for r in replicas))
        await asyncio.gather(*(r.ready() for r in replicas))

        status, body = await slack.send_command(
            replicas[0].url + "/slack/events",
            user_id=ADMIN,
            channel_id=A2P_CHANNEL,
            text=f'campaign create name="scale test" to=all at=now line={A2P_LINE} purpose=transactional '
            'text="Your order is ready for pickup"',
        )
        assert status == 200, body
        await slack.wait_for(
            lambda: any(
                b.get("action_id") == "campaign_approve"
                for m in slack.messages.get(A2P_CHANNEL, [])
                for blk in (m.get("blocks") or [])
                for b in blk.get("elements", [])
            ),
            timeout=60,
            what="the campaign preview with its Approve button",
        )
        campaign_id = next(
            b["value"]
            for m in slack.messages[A2P_CHANNEL]
            for blk in (m.get("blocks") or [])
            for b in blk.get("elements", [])
            if b.get("action_id") == "campaign_approve"
        )
        with no_collector_pauses():  # the emulator counting sends per second lives in this process
            status, body = await slack.send_command(
                replicas[1].url + "/slack/events",
                user_id=APPROVER,
                channel_id=A2P_CHANNEL,
                text=f"campaign approve {campaign_id}",
            )
            assert status == 200, body

            await twilio.wait_for(lambda: len(twilio.sent) >= RECIPIENTS // 3, timeout=300, what="a third sent")
            replicas[1].kill()
            await twilio.wait_for(
                lambda: len({m["to"] for m in twilio.sent}) >= RECIPIENTS, timeout=600, what="every recipient texted"
            )
            await asyncio.sleep(3)  # anything sent twice would arrive now

        sent_to = [m["to"] for m in twilio.sent]
        assert set(sent_to) == audience
        assert len(sent_to) == len(audience), f"{len(sent_to) - len(set(sent_to))} duplicates"
        assert max(twilio.per_second_counts().values()) <= MPS
    finally:
        for replica in replicas:
            await replica.stop()
        await slack.stop()
        await twilio.stop()
        await drop_database(name)
