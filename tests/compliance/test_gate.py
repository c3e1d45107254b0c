"""The send gate (`bot.compliance.gate.check`) against a real database, with an explicit `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.compliance import consent, gate
from bot.settings import ComplianceConfig
from storage.models import Contact, Line, Message

PHONE = "+14155550123"  # San Francisco: America/Los_Angeles (UTC-7 in June)
NOON_PACIFIC = datetime(2024, 6, 4, 19, 0, tzinfo=UTC)
LATE_PACIFIC = datetime(2024, 6, 5, 5, 30, tzinfo=UTC)  # 22:30 PDT


async def setup(session) -> int:
    line = Line(key="+14155550199", channel="C0MARKETING", kind="both")
    session.add(line)
    await session.flush()
    return line.id


async def check(session, line_id: int, *, purpose: str = "marketing", now=NOON_PACIFIC, config=None):
    config = config or ComplianceConfig()
    message = Message(
        line_id=line_id,
        direction="out",
        phone=PHONE,
        body="Deal!",
        status="sending",
        purpose=purpose,
        origin="campaign",
    )
    session.add(message)
    await session.flush()
    return await gate.check(session, message, config=config, policy=gate.quiet_policy(config), now=now)


async def test_marketing_without_opt_in_is_blocked(database):
    async with database.session() as session:
        line_id = await setup(session)
        decision = await check(session, line_id)
    assert decision.action == "block" and "no marketing opt-in" in decision.reason


async def test_marketing_with_opt_in_is_sent(database):
    async with database.session() as session:
        line_id = await setup(session)
        await consent.record(session, phone=PHONE, action="opt_in", source="import", scope="marketing")
        assert (await check(session, line_id)).allowed


async def test_transactional_needs_no_opt_in_but_respects_opt_out(database):
    async with database.session() as session:
        line_id = await setup(session)
        assert (await check(session, line_id, purpose="transactional")).allowed
        await consent.record(session, phone=PHONE, action="opt_out", source="keyword", line_id=line_id)
        decision = await check(session, line_id, purpose="transactional")
        assert decision.action == "block" and "opted out (keyword)" in decision.reason
        assert (await check(session, line_id, purpose="compliance")).allowed  # the STOP confirmation itself


async def test_opt_out_on_another_line_does_not_block_this_one(database):
    async with database.session() as session:
        line_id = await setup(session)
        other = Line(key="+14155550100", channel="C0SUPPORT")
        session.add(other)
        await session.flush()
        await consent.record(session, phone=PHONE, action="opt_in", source="import", scope="all")
        await consent.record(session, phone=PHONE, action="opt_out", source="keyword", line_id=other.id)
        assert (await check(session, line_id)).allowed
        await consent.record(session, phone=PHONE, action="opt_out", source="slack", line_id=None)
        assert (await check(session, line_id)).action == "block"


async def test_marketing_opt_out_leaves_transactional(database):
    async with database.session() as session:
        line_id = await setup(session)
        await consent.record(session, phone=PHONE, action="opt_in", source="import", scope="all")
        await consent.record(session, phone=PHONE, action="opt_out", source="slack", scope="marketing")
        assert (await check(session, line_id)).action == "block"
        assert (await check(session, line_id, purpose="transactional")).allowed


async def test_quiet_hours_defer_to_the_next_allowed_time(database):
    async with database.session() as session:
        line_id = await setup(session)
        await consent.record(session, phone=PHONE, action="opt_in", source="import", scope="marketing")
        decision = await check(session, line_id, now=LATE_PACIFIC)
    assert decision.action == "defer" and "quiet hours" in decision.reason
    assert decision.until == datetime(2024, 6, 5, 15, 0, tzinfo=UTC)  # 08:00 PDT


async def test_frequency_cap(database):
    config = ComplianceConfig(frequency_cap=2)
    async with database.session() as session:
        line_id = await setup(session)
        await consent.record(session, phone=PHONE, action="opt_in", source="import", scope="marketing")
        for hours_ago in (30, 5, 1):  # one outside the rolling 24 hours
            session.add(
                Message(
                    line_id=line_id,
                    direction="out",
                    phone=PHONE,
                    body="x",
                    status="delivered",
                    purpose="marketing",
                    origin="campaign",
                    sent_at=NOON_PACIFIC - timedelta(hours=hours_ago),
                )
            )
        await session.flush()
        decision = await check(session, line_id, config=config)
        assert decision.action == "block" and "frequency cap: 2 marketing texts" in decision.reason
        assert (await check(session, line_id, config=ComplianceConfig(frequency_cap=3))).allowed


async def test_landline_is_blocked_for_marketing(database):
    async with database.session() as session:
        line_id = await setup(session)
        await consent.record(session, phone=PHONE, action="opt_in", source="import", scope="marketing")
        session.add(Contact(phone=PHONE, number_status="landline", number_status_reason="Twilio error 30006"))
        await session.flush()
        decision = await check(session, line_id)
    assert decision.action == "block" and "landline" in decision.reason
