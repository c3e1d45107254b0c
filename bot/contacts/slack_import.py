"""`/sms contacts import` in Slack: a modal with a CSV file input; its submission imports the file."""

from __future__ import annotations

import json
import logging

import aiohttp

from bot.contacts.csv_io import MAX_FILE_BYTES, import_csv
from bot.permissions import is_admin, refusal
from bot.services import Services
from bot.slack import outbox
from bot.slack.files import download

log = logging.getLogger(__name__)

CALLBACK_ID = "contacts_import"
BLOCK_ID = "contacts_file"
ACTION_ID = "file"
SLACK_REPORT_LINES = 40


def import_modal(channel: str) -> dict:
    """The modal `/sms contacts import` opens; `channel` is where the report will be posted (ephemeral)."""
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": json.dumps({"channel": channel}),
        "title": {"type": "plain_text", "text": "Import contacts"},
        "submit": {"type": "plain_text", "text": "Import"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        "A CSV file with a header row. Columns: `phone` (required), `first_name`, `last_name`, "
                        "`tags` (separated by `;` or `|`), `consent` (`opt_in`, `opt_out` or blank), `consent_source`, "
                        "`consent_at` (ISO 8601). One bad row rejects the whole file; you get a report either way."
                    ),
                },
            },
            {
                "type": "input",
                "block_id": BLOCK_ID,
                "label": {"type": "plain_text", "text": "CSV file"},
                "element": {"type": "file_input", "action_id": ACTION_ID, "filetypes": ["csv"], "max_files": 1},
            },
        ],
    }


def submitted_file(view: dict) -> dict | None:
    """The file object a submitted import modal carries, if any."""
    value = ((view.get("state") or {}).get("values") or {}).get(BLOCK_ID, {}).get(ACTION_ID, {})
    files = value.get("files") or []
    return files[0] if files else None


def report_channel(view: dict) -> str:
    try:
        return json.loads(view.get("private_metadata") or "{}").get("channel") or ""
    except ValueError:
        return ""


async def import_from_slack(services: Services, *, user: str, channel: str, file: dict) -> str:
    """Download a file shared through the modal, import it, and return the report text for the user."""
    if not is_admin(services.settings, user):
        return refusal("admins")
    name = file.get("name") or file.get("title") or "upload.csv"
    if (file.get("size") or 0) > MAX_FILE_BYTES:
        return f":x: {name}: the file is {file['size']:,} bytes; the limit is {MAX_FILE_BYTES:,}. Nothing was imported."
    url = file.get("url_private_download") or file.get("url_private")
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
