"""Slack listeners, grouped by kind. `register` wires them all into a Bolt app, `/sms` subcommands included."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers.slack import (
    actions,
    campaign_commands,
    commands,
    consent_commands,
    contacts_commands,
    events,
    inbox,
    notify_commands,
)
from handlers.slack.commands import Subcommands


def register(app: AsyncApp, services: Services) -> None:
    """Every listener; `/sms help` lists the subcommands in the order they are added here."""
    subcommands = Subcommands()
    commands.register(app, services, subcommands)
    events.register(app, services)
    actions.register(app, services)
    campaign_commands.register(app, services, subcommands)
    consent_commands.register(app, services, subcommands)
    contacts_commands.register(app, services, subcommands)
    inbox.register(app, services, subcommands)
    notify_commands.register(app, services, subcommands)
