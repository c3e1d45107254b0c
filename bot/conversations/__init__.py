"""The conversations domain. `install` returns its worker, which takes the texts the carriers' webhooks stored
into their conversations (bot.conversations.intake), and wires its periodic scans into the app: stop requests in
plain words that nobody decided are confirmed as opt-outs at their due time (before 10 business days pass), and
thread replies that came before their thread's root was recorded are answered once it is."""

from __future__ import annotations

from bot.services import Services


def install(services: Services) -> list:
    """Register the due-time scans; return the background workers (the intake)."""
    from bot.conversations import intake, optouts, service

    services.scheduler.every(
        optouts.SCAN_SECONDS, "conversations: stop requests due", lambda: optouts.confirm_due(services)
    )
    services.scheduler.every(
        service.PARKED_SCAN_SECONDS,
        "conversations: parked thread replies",
        lambda: service.answer_parked_replies(services),
    )
    return [intake.IntakeWorker(services)]
