"""`/sms` subcommands, buttons and modals for the consent domain, added by `register`."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp

from bot.compliance import commands as consent_commands
from bot.contacts import slack_import
from bot.permissions import is_admin, refusal
from bot.services import Services
from handlers.slack.commands import CommandContext, Subcommands

log = logging.getLogger(__name__)

CONTACTS_USAGE = (
    "Usage: `/sms contacts import` (opens a form to upload a CSV file). Export with `sms-bridge contacts export`."
)


async def _optout(ctx: CommandContext) -> str:
    return await consent_commands.opt_out(ctx.services, user=ctx.user, channel=ctx.channel, args=ctx.args)


async def _optin(ctx: CommandContext) -> str:
    return await consent_commands.opt_in(ctx.services, user=ctx.user, channel=ctx.channel, args=ctx.args)


async def _consent(ctx: CommandContext) -> str:
    return await consent_commands.show(ctx.services, user=ctx.user, channel=ctx.channel, args=ctx.args)


async def _contacts(ctx: CommandContext) -> str:
    if not is_admin(ctx.services.settings, ctx.user):
        return refusal("admins")
    if ctx.args.strip().lower() != "import":
        return CONTACTS_USAGE
    if not ctx.trigger_id:
        return ":warning: Slack sent no trigger to open the form with; run the command again."
    await ctx.services.slack.views_open(trigger_id=ctx.trigger_id, view=slack_import.import_modal(ctx.channel))
    return ""


def register(app: AsyncApp, services: Services, subcommands: Subcommands) -> None:
    """`/sms optout`, `optin`, `consent`, `contacts`, and the modal submissions of this domain."""
    subcommands.add(
        "optout",
        "optout +14155550100 [reason...] — opt a number out (this line in a line channel, else every line; admins)",
        _optout,
    )
    subcommands.add(
        "optin",
        "optin +14155550100 source=WHERE [scope=marketing|transactional|all] [evidence...] — record consent (admins)",
        _optin,
    )
    subcommands.add("consent", "consent +14155550100 — a number's consent state and history (admins)", _consent)
    subcommands.add("contacts", "contacts import — import contacts from a CSV file (admins)", _contacts)

    async def ack_import(ack, view: dict) -> None:
        if slack_import.submitted_file(view) is None:
            await ack(response_action="errors", errors={slack_import.BLOCK_ID: "Choose a CSV file to import."})
            return
        await ack()

    async def run_import(body: dict, view: dict) -> None:
        # Runs after the modal is acknowledged (Slack allows 3 seconds; a large file takes longer).
        user = (body.get("user") or {}).get("id", "")
        channel = slack_import.report_channel(view)
        file = slack_import.submitted_file(view)
        try:
            text = await slack_import.import_from_slack(services, user=user, channel=channel, file=file)
        except Exception:
            log.exception("contacts import from Slack failed")
            text = ":x: The import failed unexpectedly; nothing was imported. The error is in the service log."
        await slack_import.answer(services, user=user, channel=channel, text=text)

    app.view(slack_import.CALLBACK_ID)(ack=ack_import, lazy=[run_import])
