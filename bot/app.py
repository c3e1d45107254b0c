"""App assembly: one aiohttp application serving Bolt, the carrier webhooks, the API and the workers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
from collections.abc import AsyncIterator, Iterator

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

import handlers.api
import handlers.api_v1
import handlers.carriers
import handlers.health
import handlers.links
import handlers.media
import handlers.slack
from bot import api, campaigns, conversations, notify
from bot.carriers import build_carriers
from bot.carriers.base import Carrier
from bot.clock import Clock
from bot.compliance import nanp_regions
from bot.conversations import inbox
from bot.conversations.card_ops import card_ops
from bot.lines import sync_lines
from bot.messaging.sender import SendWorker
from bot.services import Services
from bot.settings import Settings
from bot.slack.ops import all_ops
from bot.slack.outbox import OutboxWorker
from bot.validation import InvalidInput, parse_digits
from handlers.common import SERVICES, measured, storage_unavailable, unhandled_errors
from handlers.slack.payloads import check_request
from storage.db import Database
from storage.migrate import upgrade

log = logging.getLogger(__name__)

BOLT = web.AppKey("bolt", AsyncApp)
SLACK_VERIFIER: web.AppKey[SignatureVerifier | None] = web.AppKey("slack_verifier")
LOCAL_SLACK_PREFIX = "/_local/slack"
MAX_BODY_BYTES = 1024 * 1024
SLACK_TIMEOUT = 10  # seconds a Slack Web API call may take
# Bolt answers 200 with this text when it cannot authorize a request because its auth.test call failed (Slack
# rate limiting or down, typically on a process's first request). Slack would never deliver that event again;
# `_slack_events` answers 503 instead, so Slack retries it.
AUTHORIZATION_UNAVAILABLE = "sms-bridge could not reach Slack to authorize this request; please try again."


def slack_identity(settings: Settings) -> tuple[str, str, str]:
    """(bot token, signing secret, Web API URL): the real ones, or the embedded workspace's in local mode."""
    if settings.local_mode:
        return "xoxb-local-workspace", secrets.token_hex(16), settings.public_url + LOCAL_SLACK_PREFIX + "/api/"
    return settings.slack_bot_token or "", settings.slack_signing_secret or "", settings.slack_api_url


def build_app(
    settings: Settings,
    *,
    carrier: Carrier | None = None,
    carriers: dict[str, Carrier] | None = None,
    clock: Clock | None = None,
    run_workers: bool = True,
    sender_options: dict | None = None,
    outbox_options: dict | None = None,
    freeze_gc: bool = True,
) -> web.Application:
    """Build the application. Collaborators default to what `settings` describes; tests may pass their own.

    `freeze_gc` sets the garbage collector up for a long-running server (see `_served_collector`); a process
    that builds many apps (a test run) passes False, since each full collection at startup would then walk all
    of them."""
    token, signing_secret, api_url = slack_identity(settings)
    given = dict(carriers or {})
    if carrier is not None:
        given[settings.sms_provider] = carrier
    all_carriers = build_carriers(settings, given)
    services = Services(
        settings=settings,
        db=Database(settings.database_url),
        carrier=all_carriers[settings.sms_provider],
        carriers=all_carriers,
        slack=AsyncWebClient(token=token, base_url=api_url, timeout=SLACK_TIMEOUT),
        clock=clock or Clock(),
    )
    bolt = AsyncApp(
        # Bolt's own client (its authorization): Bolt deep-copies it into each lazy listener's request, which a
        # client holding a connection pool (services.slack's, see _lifecycle) cannot be.
        client=AsyncWebClient(token=token, base_url=api_url, timeout=SLACK_TIMEOUT),
        signing_secret=signing_secret or None,
        request_verification_enabled=bool(signing_secret),
        process_before_response=True,  # store before we acknowledge: listeners finish before Slack gets its 200
        user_facing_authorize_error_message=AUTHORIZATION_UNAVAILABLE,
        logger=logging.getLogger("slack_bolt"),
    )
    handlers.slack.register(bolt, services)

    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[measured, unhandled_errors, storage_unavailable])
    app[SERVICES] = services
    app[BOLT] = bolt
    app[SLACK_VERIFIER] = SignatureVerifier(signing_secret) if signing_secret else None
    app.router.add_post("/slack/events", _slack_events)
    handlers.carriers.register(app)
    handlers.health.register(app)
    handlers.media.register(app)
    handlers.links.register(app)
    handlers.api.register(app)
    handlers.api_v1.register(app)
    if settings.local_mode:
        from bot.local.slack.store import workspace_path
        from bot.local.slack.workspace import LocalWorkspace

        workspace = LocalWorkspace(
            token=token,
            signing_secret=signing_secret,
            bot_events_url=settings.callback_url("/slack/events"),
            store_path=workspace_path(settings.database_url),
        )
        workspace.mount(app, LOCAL_SLACK_PREFIX)
        from bot.local.playground import Playground

        Playground(services, slack_prefix=LOCAL_SLACK_PREFIX).mount(app)  # GET /: the page to try it all in a browser
    domains = (campaigns, conversations, notify, inbox, api)
    domain_workers = [worker for domain in domains for worker in domain.install(services)]
    services.scheduler.every(
        settings.metrics_refresh,
        "metrics: database figures",
        lambda: services.metrics.refresh(services.db, services.lines),
    )
    app.cleanup_ctx.append(
        _lifecycle(services, run_workers, sender_options or {}, outbox_options or {}, domain_workers, freeze_gc)
    )
    return app


async def _slack_events(request: web.Request) -> web.Response:
    """Every Slack HTTP request: signed (checked here, before anything is parsed, and by Bolt again), of a shape
    the listeners can read (handlers.slack.payloads), then dispatched by Bolt.

    Without a signing secret (Socket Mode), nothing proves a request came from Slack: every one is refused."""
    verifier = request.app[SLACK_VERIFIER]
    if verifier is None:
        raise web.HTTPForbidden(
            text="this server takes Slack requests over Socket Mode only; HTTP requests are refused"
        )
    raw = await request.read()
    if not _signed(verifier, raw, request.headers):
        raise web.HTTPUnauthorized(text="invalid or expired Slack signature")
    try:
        check_request(raw, request.content_type)
    except InvalidInput as exc:
        raise web.HTTPBadRequest(text=f"not a Slack request this app takes: {exc}") from None
    bolt_request = AsyncBoltRequest(body=raw.decode("utf-8"), query=request.query_string, headers=dict(request.headers))
    response = await request.app[BOLT].async_dispatch(bolt_request)
    if response.body == AUTHORIZATION_UNAVAILABLE:
        log.warning("slack request not taken: Slack's auth.test failed; Slack will retry it")
        raise web.HTTPServiceUnavailable(text=AUTHORIZATION_UNAVAILABLE)
    if response.status >= 500:
        log.error("POST /slack/events: a Slack listener failed (Bolt logged the traceback above)")
    return await to_aiohttp_response(response)


def _signed(verifier: SignatureVerifier, raw: bytes, headers) -> bool:
    """Whether `X-Slack-Signature` is Slack's over this body and a timestamp within five minutes."""
    timestamp, signature = headers.get("X-Slack-Request-Timestamp", ""), headers.get("X-Slack-Signature", "")
    try:
        parse_digits(timestamp, "X-Slack-Request-Timestamp", maximum=2**40)
    except InvalidInput:
        return False
    # hmac.compare_digest raises on a non-ASCII str: a header of other characters cannot be a signature anyway.
    return signature.isascii() and verifier.is_valid(raw, timestamp.strip(), signature)


def _lifecycle(
    services: Services,
    run_workers: bool,
    sender_options: dict,
    outbox_options: dict,
    domain_workers: list,
    freeze_gc: bool,
):
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if run_workers:
            services.db.hold_single_server()
        # One pool of connections to Slack for the process: without a session of its own, the client opens
        # (and, against Slack, TLS-handshakes) a new connection for every call.
        services.slack.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT))
        await upgrade(services.db.engine)
        await nanp_regions.load()  # quiet hours' +1 regions, before any send is gated
        async with services.db.session() as session:
            services.lines = await sync_lines(session, services.settings)
        workers = []
        if run_workers:
            workers = [
                SendWorker(services, **sender_options),
                OutboxWorker(services, all_ops() | card_ops(), **outbox_options),
                *domain_workers,
            ]
        tasks = [asyncio.create_task(worker.run()) for worker in workers]
        if run_workers:
            services.scheduler.start()
        socket_handler = await _start_socket_mode(app, services)
        collector = _served_collector() if freeze_gc else contextlib.nullcontext()
        try:
            with collector:
                yield
        finally:
            if socket_handler is not None:
                await socket_handler.close_async()
            await services.scheduler.stop()
            for worker in workers:
                await worker.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            for each in {id(c): c for c in services.carriers.values()}.values():
                await each.close()
            await services.slack.session.close() if services.slack.session else None
            await services.db.dispose()

    return lifecycle


# Objects allocated (net of those freed) between two collections of the youngest generation; CPython's
# default is 700. A busy sender keeps thousands of objects in flight (rows, requests, futures): at 700 a
# collection came every few hundred microseconds of work, walked them, promoted them, and the older
# generations' collections followed, about a tenth of a campaign's CPU. Cycles live a little longer.
YOUNG_COLLECTION_THRESHOLD = 10_000


@contextlib.contextmanager
def _served_collector() -> Iterator[None]:
    """The garbage collector as a long-running server wants it, while the app serves: what startup made
    (modules, the app, pools) out of its sight, so a full collection takes milliseconds instead of ~100 ms
    of stalled event loop, and the young generation collected less often (see YOUNG_COLLECTION_THRESHOLD)."""
    gc.collect()
    gc.freeze()
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


async def _start_socket_mode(app: web.Application, services: Services):
    if not services.settings.socket_mode:
        return None
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(app[BOLT], services.settings.slack_app_token)
    await handler.connect_async()
    log.info("connected to Slack in Socket Mode")
    return handler
