"""The campaigns domain. `install` wires it into the app: routes and the background worker.

Campaign progress is counted from the messages themselves, so campaigns need no status listener."""

from __future__ import annotations

from aiohttp import web

from bot.services import Services


def install(app: web.Application, services: Services) -> list:
    """Register routes and listeners; return the background workers (objects with run() and stop())."""
    import handlers.links
    from bot.campaigns.worker import CampaignWorker

    handlers.links.register(app)
    worker = CampaignWorker(services)
    return [worker]
