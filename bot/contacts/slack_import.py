"""Contacts imported from a CSV file someone shared in Slack (`/sms contacts import`), and the report back."""

from __future__ import annotations

import logging

import aiohttp

from bot.contacts.csv_io import MAX_FILE_BYTES, import_csv
from bot.permissions import is_admin, refusal
from bot.services import Services
from bot.slack import outbox
from bot.slack.files import download

log = logging.getLogger(__name__)

SLACK_REPORT_LINES = 40


async def import_from_slack(services: Services, *, user: str, channel: str, file: dict) -> str:
    """Download a file shared through the modal, import it, and return the report text for the user."""
    if not is_admin(services.settings, user):
        return refusal("admins")
    name = file.get("name") or file.get("title") or "upload.csv"
    if (file.get("size") or 0) > MAX_FILE_BYTES:
        return f":x: {name}: the file is {file['size']:,} bytes; the limit is {MAX_FILE_BYTES:,}. Nothing was imported."
    url = file.get("url_private_download") or file.get("url_private")
    if not url:
        return f":x: {name}: Slack gave no download link for the file. Nothing was imported."
    try:
        data = await download(services, url)
    except (ValueError, aiohttp.ClientError) as exc:
        return f":x: {name}: cannot download the file from Slack ({exc}). Nothing was imported."
    async with services.db.session() as session:
        report = await import_csv(session, data, filename=name, now=services.clock.now())
    services.wakeups.poke_outbox()
    mark = ":white_check_mark:" if report.ok else ":x:"
    return f"{mark} " + report.text(limit=SLACK_REPORT_LINES)


async def answer(services: Services, *, user: str, channel: str, text: str) -> None:
    """Tell the user how their import went (an ephemeral message in the channel they started from)."""
    if not channel:
        channel = user  # no channel known: the bot's DM with the user
    async with services.db.session() as session:
        await outbox.enqueue(session, channel=channel, op="ephemeral", payload={"user": user, "text": text[:3900]})
    services.wakeups.poke_outbox()
