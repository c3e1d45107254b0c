"""End to end in a real browser: the playground page drives the real app (local mode) as a customer and as Slack.

Headless Chromium is driven over the DevTools Protocol (tests/playground/cdp.py). The app is the real one:
`build_app(load_settings(...))` in local mode on a free port, SQLite in a temporary directory.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from bot.app import build_app
from bot.clock import Clock
from bot.settings import load_settings
from tests.playground.cdp import Browser, find_chromium

CUSTOMER = "+14155550123"  # America/Los_Angeles
SCREENSHOT = Path(__file__).resolve().parents[2] / "test-output" / "playground.png"

pytestmark = pytest.mark.skipif(
    find_chromium() is None and not os.environ.get("REQUIRE_CHROMIUM"),
    reason="chromium is not installed (apt-get install chromium, as .ci/run does; REQUIRE_CHROMIUM=1 fails instead)",
)


class CustomerNoonClock(Clock):
    """Real time moved forward to the next noon in the customer's time zone, so marketing is not held back
    by quiet hours whenever the test runs. It only ever runs ahead of the wall clock, and it keeps ticking."""

    def __init__(self, zone: str) -> None:
        local = datetime.now(ZoneInfo(zone))
        noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
        if noon < local:
            noon += timedelta(days=1)
        self.offset = noon - local

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def server(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(
        {
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "PUBLIC_URL": base,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'playground.db'}",
        }
    )
    assert settings.local_mode
    runner = web.AppRunner(build_app(settings, clock=CustomerNoonClock("America/Los_Angeles")))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield base
    finally:
        await runner.cleanup()


@pytest.fixture
async def page(server, tmp_path):
    browser = await Browser.launch(tmp_path / "chromium-profile")
    try:
        page = await browser.open(server + "/")
        await page.wait_for("document.body && document.body.dataset.ready === '1'", "the playground to load")
        yield page
    finally:
        await browser.close()


def js(value) -> str:
    return json.dumps(value)


async def phone_sends(page, text: str) -> None:
    await page.evaluate(f"""(() => {{
        document.getElementById('phone-number').value = {js(CUSTOMER)};
        document.getElementById('phone-text').value = {js(text)};
        document.getElementById('phone-send').click(); }})()""")


async def act_as(page, user: str) -> None:
    await page.evaluate(f"""(() => {{
        const select = document.getElementById('slack-user');
        select.value = {js(user)};
        select.dispatchEvent(new Event('change')); }})()""")


async def slack_sends(page, text: str) -> None:
    await page.evaluate(f"""(() => {{
        document.getElementById('slack-text').value = {js(text)};
        document.getElementById('slack-send').click(); }})()""")


def received_on_phone(text: str) -> str:
    return f"[...document.querySelectorAll('#phone-texts li.received')].some(li => li.textContent.includes({js(text)}))"


ROOT_OF_CUSTOMER = (
    "[...document.querySelectorAll('#slack-messages li.root')].find(li => li.textContent.includes('+1 415-555-0123'))"
)


async def test_customer_agent_and_campaign_through_the_page(page):
    # The customer texts the line: the thread (its live card and the text) appears in the Slack pane.
    await phone_sends(page, "Hi, do you deliver on Sundays?")
    await page.wait_for(
        f"(() => {{ const root = {ROOT_OF_CUSTOMER};"
        f" return root && root.querySelector('.replies') &&"
        f" root.querySelector('.replies').textContent.includes('do you deliver on Sundays?'); }})()",
        "the conversation thread in the Slack pane",
    )
    card = await page.evaluate(f"{ROOT_OF_CUSTOMER}.querySelector('.body').textContent")
    assert "💬" in card and "Consent:" in card and "nobody yet" in card
    assert await page.evaluate("document.querySelector('#phone-texts li.sent').textContent.includes('Sundays')")

    # An agent answers in the thread: the phone receives it, and the delivery receipt comes back as a reaction.
    await act_as(page, "U0ALICE")
    await page.evaluate(f"{ROOT_OF_CUSTOMER}.querySelector('.thread-button').click()")
    assert "Replying in the thread" in await page.evaluate("document.getElementById('slack-target').textContent")
    await slack_sends(page, "Yes, and it is free! <b>really</b>")
    await page.wait_for(received_on_phone("Yes, and it is free! <b>really</b>"), "the agent's reply on the phone")
    await page.wait_for(
        f"{ROOT_OF_CUSTOMER}.querySelector('.replies .reaction[data-name=\"white_check_mark\"]')",
        "the delivered reaction on the agent's reply",
    )
    assert await page.evaluate("document.querySelectorAll('#phone-texts b').length") == 0  # rendered as text

    # The customer opts in to marketing (START) and is saved as a contact.
    await page.evaluate("document.querySelector('[data-quick=START]').click()")
    await page.wait_for(
        "document.querySelectorAll('#phone-texts li.received').length >= 2", "the START confirmation on the phone"
    )
    await page.evaluate("document.getElementById('phone-contact').click()")
    await page.wait_for(
        "document.getElementById('status').textContent.includes('is a contact now')", "the contact to be saved"
    )

    # An admin creates a campaign with /sms; an approver clicks Approve; it reaches the phone.
    await act_as(page, "U0ADMIN")
    await page.evaluate("document.getElementById('slack-target-clear').click()")
    await slack_sends(page, "/sms campaign create name=Spring to=all at=now text=Our spring menu is here!")
    approve = "document.querySelector('#slack-messages button[data-action-id=\"campaign_approve\"]')"
    await page.wait_for(approve, "the campaign preview with its Approve button")
    preview = await page.evaluate(f"{approve}.closest('li.message').textContent")
    assert "1 eligible" in preview, preview
    await act_as(page, "U0LEAD")
    await page.evaluate(f"{approve}.click()")
    await page.wait_for(received_on_phone("Our spring menu is here!"), "the campaign text on the phone", timeout=30)
    campaign_text = await page.evaluate("[...document.querySelectorAll('#phone-texts li.received')].at(-1).textContent")
    assert "STOP" in campaign_text  # the opt-out footer
    await page.wait_for(
        "[...document.querySelectorAll('#slack-messages li.message')].some(li => li.textContent.includes('completed'))",
        "the campaign's progress to say completed",
        timeout=30,
    )
    assert not await page.evaluate(f"!!{approve}"), "the Approve button is gone once approved"

    assert page.errors() == []
    await page.screenshot(SCREENSHOT)
    assert SCREENSHOT.stat().st_size > 10_000
