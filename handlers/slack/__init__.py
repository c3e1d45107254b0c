"""Slack listeners, grouped by kind. `register` wires them all into a Bolt app."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services

# Subcommand modules add themselves to the `/sms` router when imported.
from handlers.slack import actions, campaign_commands, commands, consent_commands, events, notify_commands  # noqa: F401


def register(app: AsyncApp, services: Services) -> None:
    commands.register(app, services)
    events.register(app, services)
    actions.register(app, services)
    campaign_commands.register(app, services)
    consent_commands.register(app, services)
    notify_commands.register(app, services)
