"""`/sms contacts import`: a modal with a CSV file input; its submission imports the file (`bot.contacts`)."""

from __future__ import annotations

import json
import logging

from slack_bolt.async_app import AsyncApp

from bot.contacts import slack_import
from bot.permissions import is_admin, refusal
from bot.services import Services
from bot.validation import InvalidInput, load_json
from handlers.slack.commands import CommandContext, Subcommands

log = logging.getLogger(__name__)

CONTACTS_USAGE = (
    "Usage: `/sms contacts import` (opens a form to upload a CSV file). Export with `sms-bridge contacts export`."
)
CALLBACK_ID = "contacts_import"
BLOCK_ID = "contacts_file"
ACTION_ID = "file"
MAX_METADATA = 3000  # Slack's limit for a view's private_metadata


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
    return files[0] if files and isinstance(files[0], dict) else None


def report_channel(view: dict) -> str:
    """The channel the modal was opened from (kept in its private_metadata), or "" if it says none."""
    try:
        metadata = load_json(view.get("private_metadata") or "{}", "private_metadata", max_bytes=MAX_METADATA)
    except InvalidInput:
        return ""
    channel = metadata.get("channel") if isinstance(metadata, dict) else None
    return channel if isinstance(channel, str) else ""


async def _contacts(ctx: CommandContext) -> str:
    if not is_admin(ctx.services.settings, ctx.user):
        return refusal("admins")
    if ctx.args.strip().lower() != "import":
        return CONTACTS_USAGE
    if not ctx.trigger_id:
        return ":warning: Slack sent no trigger to open the form with; run the command again."
    await ctx.services.slack.views_open(trigger_id=ctx.trigger_id, view=import_modal(ctx.channel))
    return ""


def register(app: AsyncApp, services: Services, subcommands: Subcommands) -> None:
    """`/sms contacts`, and the submissions of its import modal."""
    subcommands.add("contacts", "contacts import — import contacts from a CSV file (admins)", _contacts)

    async def ack_import(ack, view: dict) -> None:
        if submitted_file(view) is None:
            await ack(response_action="errors", errors={BLOCK_ID: "Choose a CSV file to import."})
            return
        await ack()

    async def run_import(body: dict, view: dict) -> None:
        # Runs after the modal is acknowledged (Slack allows 3 seconds; a large file takes longer).
        user = (body.get("user") or {}).get("id", "")
        channel = report_channel(view)
        file = submitted_file(view)
        if file is None:
            return  # refused when acknowledged (ack_import): the form showed the error, there is nothing to import
        try:
            text = await slack_import.import_from_slack(services, user=user, channel=channel, file=file)
        except Exception:
            log.exception("contacts import from Slack failed")
            text = ":x: The import failed unexpectedly; nothing was imported. The error is in the service log."
        await slack_import.answer(services, user=user, channel=channel, text=text)

    app.view(CALLBACK_ID)(ack=ack_import, lazy=[run_import])
