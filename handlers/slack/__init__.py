"""Slack listeners, grouped by kind. `register` wires them all into a Bolt app."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers.slack import actions, commands, events


def register(app: AsyncApp, services: Services) -> None:
    commands.register(app, services)
    events.register(app, services)
    actions.register(app, services)
