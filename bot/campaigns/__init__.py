"""The campaigns domain. `install` wires it into the app: its background worker.

Campaign progress is counted from the messages themselves, so campaigns need no status listener."""

from __future__ import annotations

from bot.campaigns.worker import CampaignWorker
from bot.services import Services


def install(services: Services) -> list:
    """Return the background workers (objects with run() and stop())."""
    return [CampaignWorker(services)]
