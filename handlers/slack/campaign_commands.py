"""`/sms` subcommands, buttons and modals for the campaign domain (registered with `handlers.slack.commands.subcommand`)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    """Buttons and modal submissions of this domain."""
