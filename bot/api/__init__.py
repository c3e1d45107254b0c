"""The HTTP API domain: keys, transactional and marketing texts from other systems, status callbacks, one-time
codes. `install` wires it into the app: the status listener of API texts and the callback scan."""

from __future__ import annotations

from bot.api import callbacks, messages, verifications
from bot.services import Services, on_status


class _CallbackWorker:
    """Closes the callbacks' HTTP client when the app stops (the scan itself runs on the scheduler)."""

    def __init__(self, sender: callbacks.CallbackSender) -> None:
        self.sender = sender

    async def run(self) -> None:
        return None

    async def stop(self) -> None:
        await self.sender.close()


def install(services: Services) -> list:
    """Register the status listener and the callback scan; return the background workers."""

    async def status_listener(session, message) -> None:
        await messages.on_status(session, services, message)
        await verifications.on_status(session, message)

    on_status(services, messages.ORIGIN, status_listener)
    sender = callbacks.CallbackSender(services)
    services.scheduler.every(callbacks.SCAN_SECONDS, "api: status callbacks", sender.deliver_due)
    return [_CallbackWorker(sender)]
