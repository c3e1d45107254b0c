"""Shared plumbing for the loopback emulators: server lifecycle, fault windows, polling."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

FAULT_KINDS = {"429", "500", "503", "timeout", "down", "late"}


def request_key(name: str):
    """Typed request-storage key on aiohttp >= 3.12, plain string before (the project allows 3.10)."""
    return web.RequestKey(name, object) if hasattr(web, "RequestKey") else name


RECORD_KEY = request_key("emulator_record")  # the subclass's log entry for this request, if any


@dataclass
class Fault:
    """A fault that applies to matching requests until `until` (monotonic clock)."""

    kind: str
    until: float
    retry_after: int
    scopes: set[str] | None  # None = every request
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # set by clear_faults: held calls answer now


class LoopbackServer:
    """Base class: an aiohttp server on 127.0.0.1 with fault injection and background tasks."""

    def __init__(self) -> None:
        self.url = ""
        self.port = 0
        self.faults_injected: Counter[str] = Counter()
        # Exceptions raised by emulator code while handling a request (should stay empty).
        self.server_errors: list[BaseException] = []
        # Called with every request and the answer it got (tests check both against the service's definition).
        self.answer_hooks: list[Callable[[web.Request, web.StreamResponse], None]] = []
        self._faults: list[Fault] = []
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task] = set()
        self._session: aiohttp.ClientSession | None = None
        self._closing = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def _base_url(self, host: str, port: int) -> str:
        return f"http://{host}:{port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start listening; port 0 picks a free port. Sets `self.url`."""
        app = web.Application(middlewares=[self._fault_middleware], client_max_size=64 * 1024**2)
        self._add_routes(app)
        # Held ("timeout") requests end on stop(), so a short graceful shutdown is enough.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.url = self._base_url(host, self.port)
        self._closing.clear()

    async def stop(self) -> None:
        """Cancel background deliveries, release held requests and close the server."""
        self._closing.set()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    # -- helpers for subclasses ------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        """Session used when the emulator itself calls out (webhooks, media fetches)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._session

    def _spawn(self, coro: Awaitable) -> asyncio.Task:
        """Run `coro` in the background; stop() cancels it."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        """Poll `predicate` every 20 ms until it is true; AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                name = what or getattr(predicate, "__name__", repr(predicate))
                raise AssertionError(
                    f"{type(self).__name__}: condition {name} not met within {timeout}s; {self._state_summary()}"
                )
            await asyncio.sleep(0.02)

    def _state_summary(self) -> str:
        return ""

    # -- fault injection -----------------------------------------------------

    def _add_fault(self, kind: str, seconds: float, retry_after: int, scopes: set[str] | None) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        self._faults.append(Fault(kind, time.monotonic() + seconds, retry_after, scopes))

    def clear_faults(self) -> None:
        """End every fault window now; calls held by a "late" or "timeout" fault are let go at once."""
        for fault in self._faults:
            fault.ended.set()
        self._faults.clear()

    def _fault_scope(self, request: web.Request) -> str | None:
        """Name matched against a fault's scopes; None means faults never apply to this route."""
        return request.path

    def _active_fault(self, request: web.Request) -> Fault | None:
        now = time.monotonic()
        self._faults = [f for f in self._faults if f.until > now]
        scope = self._fault_scope(request)
        if scope is None:
            return None
        for fault in self._faults:
            if fault.scopes is None or scope in fault.scopes:
                return fault
        return None

    def _fault_response(self, fault: Fault) -> web.StreamResponse:
        """HTTP answer for the "429"/"500"/"503" kinds, in the emulated API's own format."""
        raise NotImplementedError

    async def _record_request(self, request: web.Request) -> None:
        """Hook awaited for every request before faults apply."""

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler) -> web.StreamResponse:
        await self._record_request(request)
        record = request.get(RECORD_KEY)
        try:
            response = await self._answer(request, handler)
        except web.HTTPException as exc:  # redirects and the like
            if isinstance(record, dict):
                record["status"] = exc.status
            raise
        if isinstance(record, dict):
            record["status"] = None if response is None else response.status
        if response is not None:
            for hook in self.answer_hooks:
                hook(request, response)
        return response if response is not None else _drop_connection(request)

    async def _answer(self, request: web.Request, handler) -> web.StreamResponse | None:
        """The response for `request`, or None to drop the connection unanswered."""
        fault = self._active_fault(request)
        if fault is not None:
            self.faults_injected[fault.kind] += 1
            if fault.kind == "timeout":
                await self._hold(fault)
                return None
            if fault.kind == "down":
                return None
            if fault.kind == "late":  # done at once, answered only when the window ends
                response = await handler(request)
                await self._hold(fault)
                return response
            return self._fault_response(fault)
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:  # an emulator bug must not look like an API answer
            log.exception("emulator error on %s %s", request.method, request.path)
            self.server_errors.append(exc)
            return self._internal_error_response()

    def _internal_error_response(self) -> web.StreamResponse:
        return web.Response(status=500, text="emulator internal error")

    async def _hold(self, fault: Fault) -> None:
        remaining = max(0.0, fault.until - time.monotonic())
        waits = [asyncio.ensure_future(self._closing.wait()), asyncio.ensure_future(fault.ended.wait())]
        try:
            await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()


def _drop_connection(request: web.Request) -> web.Response:
    """Close the TCP connection without sending any HTTP response."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=503)  # never reaches the client: the socket is gone


async def post_with_retries(
    session: aiohttp.ClientSession, url: str, *, attempts: int = 3, delay: float = 0.1, **kwargs
) -> tuple[int, str] | BaseException:
    """POST and return (status, body); on connection errors retry, then return the last error."""
    error: BaseException = RuntimeError("no attempt made")
    for attempt in range(attempts):
        try:
            async with session.post(url, **kwargs) as resp:
                return resp.status, await resp.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            error = exc
            if attempt + 1 < attempts:
                await asyncio.sleep(delay)
    return error
