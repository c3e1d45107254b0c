"""The carriers' webhooks (inbound texts and delivery receipts), each at the paths its carrier names.
The carrier verifies the request before anything is read; then the events are stored; then it is answered.
Inbound texts are stored by group commit (bot.conversations.intake) and taken into conversations right after."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from bot.carriers.base import Carrier, WebhookRefused, WebhookRequest
from bot.conversations.intake import Intake
from bot.messaging.status import record_status
from bot.phone import mask
from handlers.common import SERVICES, bad_request

log = logging.getLogger(__name__)

INTAKE = web.AppKey("intake", Intake)

_REFUSALS = {401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 415: web.HTTPUnsupportedMediaType}


def _handler(carrier: Carrier):
    async def webhook(request: web.Request) -> web.Response:
        services = request.app[SERVICES]
        body = await request.read()
        incoming = WebhookRequest(
            path=request.path,
            url=services.settings.callback_url(request.path_qs),
            headers=request.headers,
            query=request.query,
            body=body,
            content_type=request.content_type,
        )
        try:
            hook = carrier.read_webhook(incoming, time.time())
        except WebhookRefused as exc:
            log.warning("%s webhook %s refused: %s", carrier.name, request.path, exc.reason)
            raise _REFUSALS.get(exc.status, web.HTTPForbidden)(text=exc.reason) from None
        except ValueError as exc:  # InvalidInput too
            raise bad_request(str(exc)) from None
        texts = []
        for event in hook.events:
            if event.inbound is not None:
                line = services.lines.by_key(event.inbound.to) or services.lines.by_key(event.inbound.messaging_service)
                if line is None:
                    # Answered 200 all the same, so that the carrier stops retrying it.
                    log.warning(
                        "%s webhook: event %s is a text to %s, a number no line uses; ignored",
                        carrier.name,
                        event.event_id,
                        mask(event.inbound.to),
                    )
                    continue
                texts.append(event.inbound)
            if event.status is not None:
                await record_status(services, event.status, event.message_id)
        await request.app[INTAKE].accept(texts)
        reply = hook.reply
        if reply.text is None:
            return web.Response(status=reply.status)
        return web.Response(status=reply.status, text=reply.text, content_type=reply.content_type)

    return webhook


def register(app: web.Application) -> None:
    app[INTAKE] = Intake(app[SERVICES])
    for path, carrier in app[SERVICES].webhook_carriers().items():
        app.router.add_post(path, _handler(carrier))
