"""SIGKILL after SIGKILL of the server process while a campaign runs, customers text in and agents reply, with
Twilio holding texts in its queue and listing them late. Every process is started in its predecessor's place
(same address, same database), as a supervisor restarts a crashed service; each successor is loaded while its
predecessor runs, so that a restart costs the start of a server, not the import of its libraries. In the end every
acknowledged text is in Slack once, and every acknowledged reply and every recipient reached the carrier once.

A killed process's claims and leases name it (host, pid, start token): its successor on the same host sees that
it is gone and takes its work over at once, reconciling the texts it had in flight against Twilio's list (queued
messages included) before any is sent again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from tests.support.audience import seed_audience
from tests.support.bridge import A2P_CHANNEL, A2P_LINE
from tests.support.traffic import (
    Text,
    approve_campaign,
    config_with_lines,
    create_campaign,
    customers,
    deliver_reply,
    deliver_text,
    inbound_tally,
    open_threads,
    refusals,
    replies_expected,
    sent_tally,
    wait_settled,
)

KILLS = 20
LINES, NUMBERS_PER_LINE = 4, 2
CAMPAIGN_SIZE, CAMPAIGN_MPS = 360, 20
CAMPAIGN_TEXT = "Crash loop: your order is ready"
# Each process lives until the campaign has reached another QUOTA recipients (within ALIVE seconds of being
# ready): the kills follow the campaign's progress, so all of them come while it runs however fast the machine
# restarts, and a slow machine is not made to wait.
QUOTA = CAMPAIGN_SIZE // (KILLS + 2)
ALIVE = (0.6, 3.5)
PATIENCE = 300  # seconds Twilio and Slack go on delivering a webhook or event that is not acknowledged
# Short enough for the texts a killed process had claimed but not yet offered to go out within the test; longer
# than Twilio's list lag here (3 s), so nothing Twilio took is sent again.
WINDOW = {"RECONCILE_WINDOW_SECONDS": "10"}
HELD = (0.5, 4.0)  # seconds Twilio holds each text queued (date_sent null) before it goes out


def campaign_config() -> tuple[str, list[tuple[str, str]]]:
    config, lines = config_with_lines(LINES)
    a2p = f'number = "{A2P_LINE}"\nchannel = "{A2P_CHANNEL}"\nkind = "both"\nmps = 50'
    assert a2p in config
    return config.replace(a2p, a2p.replace("mps = 50", f"mps = {CAMPAIGN_MPS}")), lines


async def live(reached: Callable[[], bool]) -> None:
    """Let a process run ALIVE[0] seconds, then until `reached()` or ALIVE[1] seconds in all."""
    await asyncio.sleep(ALIVE[0])
    deadline = time.monotonic() + ALIVE[1] - ALIVE[0]
    while not reached() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def crash(server) -> None:
    """SIGKILL the server process and wait until it is gone."""
    server.kill()
    await server.process.wait()


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
async def test_twenty_sigkills_across_a_campaign_inbound_texts_and_replies(database_url, slack, twilio, serve, report):
    started = time.monotonic()
    twilio.queue_hold, twilio.list_lag = HELD, 3.0
    config, lines = campaign_config()
    audience = await seed_audience(database_url, CAMPAIGN_SIZE)
    server = await serve(database_url, config, env=WINDOW)
    port = server.port
    people = customers(lines, NUMBERS_PER_LINE, "+1628558")
    opening, threads = await open_threads(slack, twilio, server.url, people)
    campaign_id = await create_campaign(
        slack, server.url, f'name="loop" to=all at=now line={A2P_LINE} purpose=transactional text="{CAMPAIGN_TEXT}"'
    )
    await approve_campaign(slack, server.url, campaign_id)
    texted = lambda: {m["to"] for m in twilio.sent if m["body"] == CAMPAIGN_TEXT}  # noqa: E731

    texts, replies, rounds = [], [], 0
    load_successor = lambda: asyncio.create_task(serve(database_url, config, port=port, env=WINDOW, standby=True))  # noqa: E731
    successor = load_successor()
    texted_at_kills = []
    for _ in range(KILLS):
        # Each process gets a round of traffic: a text from every customer and a reply in every thread.
        rounds += 1
        round_texts = [Text(phone, line, channel, f"{phone} loop {rounds}") for phone, line, channel in people]
        texts += [
            asyncio.create_task(deliver_text(twilio, server.url, text, patience=PATIENCE)) for text in round_texts
        ]
        replies += [
            asyncio.create_task(
                deliver_reply(
                    slack,
                    server.url,
                    phone=phone,
                    channel=channel,
                    thread_ts=threads[phone],
                    body=f"reply {rounds} to {phone}",
                    patience=PATIENCE,
                )
            )
            for phone, _, channel in people
        ]
        goal = (texted_at_kills[-1] if texted_at_kills else 0) + QUOTA
        await live(lambda: len(texted()) >= goal)  # noqa: B023 (called before the loop moves on)
        await crash(server)
        texted_at_kills.append(len(texted()))
        server = await successor
        await server.activate()
        successor = load_successor()  # loads while this one lives
    await successor  # the spare is stopped with the others at the end

    texts = [*opening, *await asyncio.gather(*texts)]
    replies = await asyncio.gather(*replies)
    expected_sms = replies_expected(replies) + [(phone, CAMPAIGN_TEXT) for phone in audience]
    await slack.wait_for(lambda: inbound_tally(slack, texts).lost == 0, timeout=90, what="every text in Slack")
    await twilio.wait_for(lambda: sent_tally(twilio, expected_sms).lost == 0, timeout=180, what="every SMS sent")
    await wait_settled(database_url, timeout=90)

    inbound, outbound = inbound_tally(slack, texts), sent_tally(twilio, expected_sms)
    report(
        faults={"sigkill": KILLS},
        crashes=KILLS,
        inputs=len(texts) + len(replies) + len(audience),
        lost=inbound.lost + outbound.lost,
        duplicates=inbound.duplicates + outbound.duplicates,
        misplaced=inbound.misplaced,
        campaign_texted_at_kills=texted_at_kills,
        refused=refusals([*texts, *replies]),
        seconds=round(time.monotonic() - started),
    )
    assert texted_at_kills[-1] < CAMPAIGN_SIZE, "every kill must come while the campaign runs"
    assert all(t.acknowledged for t in texts) and all(r.acknowledged for r in replies)
    assert inbound.clean, inbound
    assert outbound.clean, outbound
    assert server.process.returncode is None


async def test_sigkill_while_twilio_holds_the_texts_in_its_queue(tmp_path, slack, twilio, serve, report):
    """Twilio holds every text 40-45 s in its queue (over a sender's throughput, under carrier throttling): no
    callback comes and `date_sent` stays null meanwhile. The texts in flight at the kill are found queued in its
    list, not sent again."""
    url = f"sqlite+aiosqlite:///{tmp_path}/bridge.db"
    twilio.queue_hold = (40.0, 45.0)
    config, _ = campaign_config()
    audience = await seed_audience(url, 60)
    env = {"RECONCILE_WINDOW_SECONDS": "15"}  # shorter than the hold: the list, not the window, must find them
    first = await serve(url, config, env=env)
    campaign_id = await create_campaign(
        slack, first.url, f'name="held" to=all at=now line={A2P_LINE} purpose=transactional text="{CAMPAIGN_TEXT}"'
    )
    await approve_campaign(slack, first.url, campaign_id)
    texted = lambda: {m["to"] for m in twilio.sent if m["body"] == CAMPAIGN_TEXT}  # noqa: E731
    await twilio.wait_for(lambda: len(texted()) >= 20, timeout=60, what="a third of the campaign sent")
    await crash(first)
    texted_at_kill = len(texted())
    await serve(url, config, port=first.port, env=env)
    expected = [(phone, CAMPAIGN_TEXT) for phone in audience]
    await twilio.wait_for(lambda: sent_tally(twilio, expected).lost == 0, timeout=90, what="every SMS sent")
    await wait_settled(url, timeout=60)
    await asyncio.sleep(2)  # a second copy, had one been queued, goes out within this
    outbound = sent_tally(twilio, expected)
    report(
        faults={"sigkill": 1},
        crashes=1,
        inputs=len(audience),
        lost=outbound.lost,
        duplicates=outbound.duplicates,
        texted_at_kill=texted_at_kill,
        still_queued_at_twilio=sum(m["status"] == "queued" for m in twilio.sent),
    )
    assert texted_at_kill < len(audience)
    assert outbound.clean, outbound
