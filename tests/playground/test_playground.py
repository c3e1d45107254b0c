"""End to end in a real browser: the playground page drives the real app (local mode) as a customer and as Slack.

Playwright drives Debian's headless Chromium (`/usr/bin/chromium`, given as `executable_path`: no browser is
downloaded). The app is the real one: `build_app(load_settings(...))` in local mode on a free port, SQLite in a
temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from playwright.async_api import ConsoleMessage, Page, async_playwright, expect

from bot.app import build_app
from bot.clock import Clock
from bot.settings import load_settings

CUSTOMER = "+14155550123"  # America/Los_Angeles
SCREENSHOT = Path(__file__).resolve().parents[2] / "test-output" / "playground.png"
WAIT_MS = 20_000
CAMPAIGN_WAIT_MS = 30_000


def find_chromium() -> str | None:
    """Debian's Chromium, installed by `apt-get install chromium` (as .ci/run does)."""
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")


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


def is_page_error(message: ConsoleMessage) -> bool:
    """A console error of the page's own; the browser's unanswered request for /favicon.ico is not one."""
    return message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico")


@pytest.fixture
def page_errors() -> list[str]:
    """The page's uncaught exceptions and console errors, checked at the end of the test."""
    return []


@pytest.fixture
async def page(server, page_errors):
    executable = find_chromium()
    if executable is None:
        pytest.fail("REQUIRE_CHROMIUM is set but chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 900})
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.on("console", lambda msg: page_errors.append(msg.text) if is_page_error(msg) else None)
            await page.goto(server + "/")
            await expect(page.locator("body[data-ready='1']")).to_be_attached(timeout=WAIT_MS)
            yield page
        finally:
            await browser.close()


async def phone_sends(page: Page, text: str) -> None:
    await page.fill("#phone-number", CUSTOMER)
    await page.fill("#phone-text", text)
    await page.click("#phone-send")


async def act_as(page: Page, user: str) -> None:
    await page.select_option("#slack-user", user)


async def slack_sends(page: Page, text: str) -> None:
    await page.fill("#slack-text", text)
    await page.click("#slack-send")


def received(page: Page):
    return page.locator("#phone-texts li.received")


async def test_customer_agent_and_campaign_through_the_page(page: Page, page_errors: list[str]):
    # The customer texts the line: the thread's live card, carrying the text, appears in the Slack pane.
    await phone_sends(page, "Hi, do you deliver on Sundays?")
    root = page.locator("#slack-messages li.root", has_text="+1 415-555-0123")
    await expect(root.locator(".body").first).to_contain_text("do you deliver on Sundays?", timeout=WAIT_MS)
    card = await root.locator(".body").first.text_content()
    assert "💬" in card and "Consent:" in card and "nobody yet" in card
    await expect(page.locator("#phone-texts li.sent").first).to_contain_text("Sundays")

    # An agent answers in the thread: the phone receives it, and the delivery receipt comes back as a reaction.
    await act_as(page, "U0ALICE")
    await root.locator(".thread-button").click()
    await expect(page.locator("#slack-target")).to_contain_text("Replying in the thread")
    await slack_sends(page, "Yes, and it is free! <b>really</b>")
    await expect(received(page).filter(has_text="Yes, and it is free! <b>really</b>")).to_have_count(1, timeout=WAIT_MS)
    await expect(root.locator('.replies .reaction[data-name="white_check_mark"]')).to_be_attached(timeout=WAIT_MS)
    await expect(page.locator("#phone-texts b")).to_have_count(0)  # rendered as text, not HTML

    # The customer joins marketing with the line's join keyword, confirms with YES, and is saved as a contact.
    await page.click("#phone-join")
    await expect(received(page)).to_have_count(2, timeout=WAIT_MS)  # "Reply YES to confirm..."
    await expect(received(page).last).to_contain_text("Reply YES")
    await phone_sends(page, "YES")
    await expect(received(page)).to_have_count(3, timeout=WAIT_MS)  # "You are subscribed..."
    await page.click("#phone-contact")
    await expect(page.locator("#status")).to_contain_text("is a contact now", timeout=WAIT_MS)

    # An admin creates a campaign with /sms; an approver clicks Approve; it reaches the phone.
    await act_as(page, "U0ADMIN")
    await page.click("#slack-target-clear")
    await slack_sends(page, "/sms campaign create name=Spring to=all at=now text=Our spring menu is here!")
    approve = page.locator('#slack-messages button[data-action-id="campaign_approve"]')
    await expect(approve).to_be_visible(timeout=WAIT_MS)
    preview = approve.locator("xpath=ancestor::li[contains(concat(' ', @class, ' '), ' message ')][1]")
    await expect(preview).to_contain_text("1 eligible")
    await act_as(page, "U0LEAD")
    await approve.click()
    campaign_text = received(page).filter(has_text="Our spring menu is here!")
    await expect(campaign_text).to_have_count(1, timeout=CAMPAIGN_WAIT_MS)
    await expect(campaign_text).to_contain_text("STOP")  # the opt-out footer
    progress = page.locator("#slack-messages li.message", has_text="completed")
    await expect(progress.first).to_be_attached(timeout=CAMPAIGN_WAIT_MS)
    await expect(approve).to_have_count(0)  # the Approve button is gone once approved

    assert page_errors == []
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


async def test_what_is_typed_while_a_message_is_being_sent_is_kept(page: Page, page_errors: list[str]):
    """The composer empties as a message goes, not when the bot has answered it: the next message, typed while
    the bot is still answering, is not wiped."""
    held, release = asyncio.Event(), asyncio.Event()

    async def hold(route):
        held.set()
        await release.wait()
        await route.continue_()

    await page.route("**/command", hold)
    await slack_sends(page, "/sms help")
    await asyncio.wait_for(held.wait(), timeout=WAIT_MS / 1000)
    await page.fill("#slack-text", "the next message")
    release.set()
    await expect(page.locator("#status")).to_contain_text("ran /sms help", timeout=WAIT_MS)
    await expect(page.locator("#slack-text")).to_have_value("the next message")
    assert page_errors == []


async def test_inbox_buttons_contact_modal_and_a_snippet_through_the_page(page: Page, page_errors: list[str]):
    await phone_sends(page, "Is my order ready?")
    root = page.locator("#slack-messages li.root", has_text="+1 415-555-0123")
    await expect(root.locator(".body").first).to_contain_text("Is my order ready?", timeout=WAIT_MS)
    body = root.locator(".body").first
    await expect(body).to_contain_text("Assignee: nobody")

    # Alice takes it from the card.
    await act_as(page, "U0ALICE")
    await root.locator('button[data-action-id="conversation_assign_me"]').first.click()
    await expect(body).to_contain_text("Assignee: @Alice", timeout=WAIT_MS)

    # She names the contact in the Edit contact modal; an empty name is refused inside the modal first.
    await root.locator('button[data-action-id="conversation_edit_contact"]').first.click()
    await expect(page.locator("#modal")).to_be_visible(timeout=WAIT_MS)
    await page.fill('[name="name/value"]', "")
    await page.click("#modal-submit")
    await expect(page.locator("#modal-errors")).to_contain_text("Name cannot be empty", timeout=WAIT_MS)
    await page.fill('[name="name/value"]', "Dana Scully")
    await page.fill('[name="tags/value"]', "vip")
    await page.click("#modal-submit")
    await expect(body).to_contain_text("Dana Scully", timeout=WAIT_MS)
    await expect(body).to_contain_text("vip")

    # An admin saves a snippet; Alice sends it with !thanks, filled with the contact's first name.
    await act_as(page, "U0ADMIN")
    await slack_sends(page, "/sms snippet add thanks Thanks {first_name|there}, it is ready!")
    await expect(page.locator("#status")).to_contain_text("U0ADMIN ran /sms snippet add", timeout=WAIT_MS)
    await act_as(page, "U0ALICE")
    await root.locator(".thread-button").click()
    await slack_sends(page, "!thanks")
    await expect(received(page).filter(has_text="Thanks Dana, it is ready!")).to_have_count(1, timeout=WAIT_MS)

    # Resolved from the card; the customer's next text reopens it, and the thread says so.
    await root.locator('button[data-action-id="conversation_resolve"]').first.click()
    await expect(body).to_contain_text("resolved", timeout=WAIT_MS)
    await expect(root.locator('button[data-action-id="conversation_reopen"]')).to_have_count(1)
    await phone_sends(page, "One more thing")
    await expect(root.locator(".replies")).to_contain_text("Reopened: the customer wrote again", timeout=WAIT_MS)
    await expect(root.locator('button[data-action-id="conversation_resolve"]')).to_have_count(1, timeout=WAIT_MS)
    assert page_errors == []
