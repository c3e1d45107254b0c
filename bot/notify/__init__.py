"""The notify domain. `install` wires it into the app: status listeners, renderers, team members' texts (page
answers), the escalation scan."""

from __future__ import annotations

from bot.notify import answers, escalation, service
from bot.services import Services, on_status


def install(services: Services) -> list:
    """Register listeners and the escalation scan; return the background workers (objects with run() and stop())."""

    async def status_listener(session, message) -> None:
        await service.on_status(session, services, message)

    async def take(session, line, message) -> None:
        await answers.take_team_text(session, services, line, message)

    on_status(services, service.ORIGIN, status_listener)
    services.renderers["notification"] = service.render_by_id
    services.inbound_routes.append((answers.is_team_number, take))
    services.scheduler.every(escalation.SCAN_SECONDS, "notify: escalations", lambda: escalation.escalate_due(services))
    return []
