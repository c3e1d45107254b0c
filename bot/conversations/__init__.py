"""The conversations domain. `install` wires its periodic scan into the app: stop requests in plain words that
nobody decided are confirmed as opt-outs at their due time (before 10 business days pass)."""

from __future__ import annotations

from bot.services import Services


def install(services: Services) -> list:
    """Register the due-time scan of stop requests; return the background workers (none)."""
    from bot.conversations import optouts

    services.scheduler.every(
        optouts.SCAN_SECONDS, "conversations: stop requests due", lambda: optouts.confirm_due(services)
    )
    return []
