"""The inbound intake: a text is committed before its webhook is answered, in a commit shared with the webhooks
that came with it, then taken into its conversation; a crash between the two loses nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select, text, update

from bot.carriers.base import InboundSMS
from bot.compliance import gate
from bot.conversations.intake import MAX_ATTEMPTS, SENDER_LOCKS, Intake, IntakeWorker
from bot.messaging.outbound import queue_sms
from storage.models import InboundText, Message
from tests.support.bridge import CHANNEL, LINE, thread_texts
from tests.support.metrics import scrape, value

CUSTOMER = "+14155550177"


async def waiting_texts(bridge) -> list[InboundText]:
    async with bridge.services.db.session() as session:
        return list((await session.scalars(select(InboundText).order_by(InboundText.id))).all())


async def messages_in(bridge) -> list[str]:
    async with bridge.services.db.session() as session:
        return list((await session.scalars(select(Message.body).where(Message.direction == "in"))).all())


async def until(predicate, what: str, timeout: float = 10.0) -> None:
    """Poll an async predicate (the database) until it holds."""
    for _ in range(int(timeout / 0.02)):
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"still waiting for {what}")


async def test_a_text_answered_is_stored_and_taken_after_a_crash_before_its_conversation(make_bridge, slack, twilio):
    """No worker runs (as if the process died right after the 200): the text waits in inbound_texts, a
    redelivery is kept once, and the next start takes it into its conversation and Slack."""
    bridge = await make_bridge(run_workers=False)
    status, _, sid = await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="are you open?")
    assert status == 200
    status, _, _ = await twilio.send_inbound(
        bridge.url, from_=CUSTOMER, to=LINE, body="are you open?", message_sid=sid
    )  # the carrier did not see the first 200 and delivers again
    assert status == 200
    [row] = await waiting_texts(bridge)
    assert (row.carrier_sid, row.sender, row.recipient, row.body, row.attempts) == (
        sid,
        CUSTOMER,
        LINE,
        "are you open?",
        0,
    )
    assert await messages_in(bridge) == []

    await bridge.stop()
    bridge.build_options["run_workers"] = True
    await bridge.start()
    await slack.wait_for(lambda: slack.roots(CHANNEL) and thread_texts(slack, CHANNEL, slack.roots(CHANNEL)[0]["ts"]))
    assert thread_texts(slack, CHANNEL, slack.roots(CHANNEL)[0]["ts"]) == ["are you open?"]
    assert await messages_in(bridge) == ["are you open?"]
    assert await waiting_texts(bridge) == []

    # Delivered once more after it was taken: still one message.
    status, _, _ = await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="are you open?", message_sid=sid)
    assert status == 200
    await until(lambda: _none_waiting(bridge), "the redelivery to be settled")
    assert await messages_in(bridge) == ["are you open?"]


async def _none_waiting(bridge) -> bool:
    return not await waiting_texts(bridge)


async def test_webhooks_waiting_together_share_one_commit(make_bridge):
    bridge = await make_bridge(run_workers=False)
    intake = Intake(bridge.services)
    commits: list[int] = []
    event.listen(bridge.services.db.engine.sync_engine, "commit", lambda conn: commits.append(1))
    texts = [
        InboundSMS(carrier_sid=f"SM{i:032d}", from_=CUSTOMER, to=LINE, body=f"text {i}", media=()) for i in range(20)
    ]
    await asyncio.gather(*(intake.accept([sms]) for sms in texts), intake.accept(texts[:3]))  # 3 redelivered
    assert len(commits) == 1
    assert [row.body for row in await waiting_texts(bridge)] == [f"text {i}" for i in range(20)]


async def test_a_text_that_cannot_be_taken_is_recorded_and_holds_up_no_other(make_bridge, slack, twilio):
    bridge = await make_bridge()

    async def refuse(session, line, message) -> None:
        if message.body == "poison":
            raise RuntimeError("this hook refuses the text")

    bridge.services.inbound_hooks.append(refuse)
    for body in ("poison", "after it"):
        status, _, _ = await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body=body)
        assert status == 200
    await slack.wait_for(lambda: slack.roots(CHANNEL) and thread_texts(slack, CHANNEL, slack.roots(CHANNEL)[0]["ts"]))
    assert thread_texts(slack, CHANNEL, slack.roots(CHANNEL)[0]["ts"]) == ["after it"]
    [row] = await waiting_texts(bridge)
    assert row.body == "poison" and row.attempts == 1 and row.failed_at is not None
    assert row.error == "RuntimeError: this hook refuses the text"
    assert await messages_in(bridge) == ["after it"]  # the failed attempt left nothing behind
    await bridge.services.metrics.refresh(bridge.services.db, bridge.services.lines)
    _, samples = await scrape(bridge.url)
    assert value(samples, "sms_bridge_inbound_texts_waiting", failed="true") == 1
    assert value(samples, "sms_bridge_inbound_texts_waiting", failed="false") is None

    # Once the cause is gone, the next attempt (due a minute later; here made due now) takes it.
    bridge.services.inbound_hooks.remove(refuse)
    async with bridge.services.db.session() as session:
        await session.execute(update(InboundText).values(failed_at=datetime(2000, 1, 1, tzinfo=UTC)))
    bridge.services.wakeups.poke_intake()
    await slack.wait_for(lambda: thread_texts(slack, CHANNEL, slack.roots(CHANNEL)[0]["ts"]) == ["after it", "poison"])
    assert await waiting_texts(bridge) == []


async def test_a_text_failing_every_attempt_is_kept_with_its_error(make_bridge, twilio):
    bridge = await make_bridge(run_workers=False)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="poison")

    async def refuse(session, line, message) -> None:
        raise RuntimeError("still refused")

    bridge.services.inbound_hooks.append(refuse)
    worker = IntakeWorker(bridge.services)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert await worker.take_batch() == 1
        async with bridge.services.db.session() as session:
            await session.execute(update(InboundText).values(failed_at=None))  # due again at once
        [row] = await waiting_texts(bridge)
        assert row.attempts == attempt
    assert await worker.take_batch() == 0  # given up on: kept, with its error, for a person to look at
    [row] = await waiting_texts(bridge)
    assert row.error == "RuntimeError: still refused"
    assert await messages_in(bridge) == []


async def test_a_sender_held_by_another_replica_is_passed_over(make_bridge, twilio):
    bridge = await make_bridge(run_workers=False)
    if bridge.services.db.is_sqlite:
        pytest.skip("SQLite is served by one process")
    other = "+14155550179"
    for phone, body in ((CUSTOMER, "first"), (other, "someone else"), (CUSTOMER, "second")):
        await twilio.send_inbound(bridge.url, from_=phone, to=LINE, body=body)
    # A batch's time budget is no part of this: a busy machine may spend it on the first text alone.
    worker = IntakeWorker(bridge.services, batch_seconds=30)
    async with bridge.services.db.session() as other_replica:
        held = await other_replica.scalar(
            text("SELECT pg_try_advisory_xact_lock(:namespace, hashtext(:sender))"),
            {"namespace": SENDER_LOCKS, "sender": CUSTOMER},
        )
        assert held
        assert await worker.take_batch() == 1  # only the customer nobody else is taking
        assert await messages_in(bridge) == ["someone else"]
    assert await worker.take_batch() == 2
    assert await messages_in(bridge) == ["someone else", "first", "second"]


async def test_two_replicas_take_texts_together_each_customer_in_order(make_bridge, twilio, caplog):
    """Each replica passes over the customers the other is taking: every text is taken once, none fails on
    the other's work, and each customer's texts are stored in the order they came."""
    first = await make_bridge(run_workers=False)
    if first.services.db.is_sqlite:
        pytest.skip("SQLite is served by one process")
    second = await make_bridge(run_workers=False)
    customers = [f"+1415555{1200 + i:04d}" for i in range(6)]
    for n in range(10):
        await asyncio.gather(
            *(
                twilio.send_inbound((first, second)[i % 2].url, from_=phone, to=LINE, body=f"{phone} {n}")
                for i, phone in enumerate(customers)
            )
        )

    async def drain(worker: IntakeWorker) -> int:
        taken = 0
        while settled := await worker.take_batch():
            taken += settled
            await asyncio.sleep(0)
        return taken

    # Small batches, so that the two replicas' turns interleave.
    workers = [IntakeWorker(bridge.services, batch_seconds=0.001, batch_limit=7) for bridge in (first, second)]
    await asyncio.gather(*(drain(worker) for worker in workers))
    while await drain(workers[0]):
        pass  # what one passed over while the other held its sender
    async with first.services.db.session() as session:
        stored = (await session.execute(select(Message.phone, Message.body).order_by(Message.id))).all()
    assert len(stored) == 60
    assert [r.getMessage() for r in caplog.records if "cannot be taken" in r.getMessage()] == []
    for phone in customers:
        assert [body for who, body in stored if who == phone] == [f"{phone} {n}" for n in range(10)]
    assert await waiting_texts(first) == []


async def test_an_opt_out_counts_from_the_moment_its_webhook_is_answered(make_bridge, twilio):
    """Until a STOP is taken into its conversation, the send gate holds every text to its sender; then the
    ledger's opt-out blocks them. An ordinary text waiting holds nothing."""
    bridge = await make_bridge(run_workers=False)
    services = bridge.services
    other = "+14155550178"
    async with services.db.session() as session:
        queued = [
            await queue_sms(
                session, line=services.lines.by_key(LINE), phone=phone, body="your order shipped", origin="api"
            )
            for phone in (CUSTOMER, other)
        ]
    for phone, body in ((CUSTOMER, "Stop"), (other, "thanks!")):
        status, _, _ = await twilio.send_inbound(bridge.url, from_=phone, to=LINE, body=body)
        assert status == 200

    async def decisions() -> list[gate.Decision]:
        now = services.clock.now()
        async with services.db.session() as session:
            found = await gate.check_many(
                session,
                queued,
                config=services.settings.compliance,
                policy=gate.quiet_policy(services.settings.compliance),
                now=now,
            )
        return [found[message.id] for message in queued]

    held, free = await decisions()
    assert (held.action, held.reason) == ("defer", gate.OPT_OUT_ARRIVING)
    assert held.until is not None and held.until > services.clock.now()
    assert free.allowed

    assert await IntakeWorker(services).take_batch() >= 1
    while await IntakeWorker(services).take_batch():
        pass
    blocked, free = await decisions()
    assert blocked.action == "block" and "opted out" in blocked.reason
    assert free.allowed
