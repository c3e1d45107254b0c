"""The notify domain. `install` wires it into the app: routes, status listeners, background workers."""

from __future__ import annotations

from aiohttp import web

from bot.services import Services, on_status


def install(app: web.Application, services: Services) -> list:
    """Register routes and listeners; return the background workers (objects with run() and stop())."""
    import handlers.api
    from bot.notify import service
    from bot.notify.escalation import EscalationWorker

    async def status_listener(session, message) -> None:
        await service.on_status(session, services, message)

    async def inbound_hook(session, line, message) -> None:
        await service.on_inbound(session, services, line, message)

    on_status(services, service.ORIGIN, status_listener)
    services.renderers["notification"] = service.render_by_id
    services.inbound_hooks.append(inbound_hook)
    handlers.api.register(app)
    return [EscalationWorker(services)]
