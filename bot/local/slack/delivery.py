"""Slack's side of the app's request URL: events, slash commands and interactions, signed and delivered as
Slack delivers them (``X-Slack-Signature`` v0 over ``v0:{timestamp}:{body}``; an event the app does not
acknowledge is retried with the same ``event_id`` and ``X-Slack-Retry-Num``)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bot.local.slack.state import WorkspaceState, new_id

log = logging.getLogger(__name__)

USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
APP_TIMEOUT = aiohttp.ClientTimeout(total=30)
# Slack retries an unacknowledged event nearly at once, then after one minute, then after five.
EVENT_RETRY_DELAYS = (1.0, 60.0, 300.0)


class AppUnreachable(aiohttp.ClientConnectionError):
    """The app's request URL did not answer (a connection-level failure, as aiohttp's own)."""


class Delivery:
    """Signs and POSTs Slack's requests to an app. `deliveries` records each one (kind, url, status, body)."""

    def __init__(self, state: WorkspaceState, *, signing_secret: str, timeout: aiohttp.ClientTimeout = APP_TIMEOUT):
        self.state = state
        self.signing_secret = signing_secret
        self.deliveries: list[dict] = []
        self._verifier = SignatureVerifier(signing_secret)
        self._timeout = timeout
        self._http: aiohttp.ClientSession | None = None
        self.retry_delays = EVENT_RETRY_DELAYS
        self._retries: set[asyncio.Task] = set()

    async def close(self) -> None:
        """Stop pending retries and close the HTTP session."""
        for task in list(self._retries):
            task.cancel()
        await asyncio.gather(*self._retries, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None

    # ------------------------------------------------------------------ the wire

    def headers(self, body: str, content_type: str, *, timestamp: int | None = None, signature: str | None = None):
        """Slack's request headers; `timestamp`/`signature` override the real ones (to test refusals)."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or self._verifier.generate_signature(timestamp=ts, body=body),
            "User-Agent": USER_AGENT,
        }

    async def post(self, kind: str, url: str, body: str, content_type: str, **overrides: Any) -> tuple[int, str]:
        """POST one signed request; returns (HTTP status, body text). AppUnreachable when nothing answered.
        `overrides`: `timestamp`, `signature`, `extra_headers`."""
        extra = overrides.pop("extra_headers", None) or {}
        headers = {**self.headers(body, content_type, **overrides), **extra}
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._http.post(url, data=body.encode(), headers=headers) as resp:
                status, text = resp.status, await resp.text()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self.deliveries.append({"kind": kind, "url": url, "status": None, "body": str(exc)})
            raise AppUnreachable(f"the app at {url} did not answer: {type(exc).__name__} {exc}") from None
        self.deliveries.append({"kind": kind, "url": url, "status": status, "body": text})
        return status, text

    # ------------------------------------------------------------------ what Slack sends

    def envelope(self, event: dict, *, event_id: str | None = None) -> dict:
        """The Events API `event_callback` envelope Slack wraps around `event`."""
        identity = self.state.identity
        return {
            "token": identity.verification_token,
            "team_id": identity.team_id,
            "context_team_id": identity.team_id,
            "context_enterprise_id": None,
            "api_app_id": identity.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or new_id("Ev"),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": identity.team_id,
                    "user_id": identity.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_urlsafe(24),
        }

    async def event(
        self, url: str, event: dict, *, event_id: str | None = None, retry_num: int | None = None, **overrides: Any
    ) -> tuple[int, str]:
        """Deliver `event` once, in its envelope; `retry_num` marks it as Slack's retry of the same event_id."""
        body = json.dumps(self.envelope(event, event_id=event_id))
        if retry_num is not None:
            overrides["extra_headers"] = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_error"}
        return await self.post("event", url, body, "application/json", **overrides)

    async def event_with_retries(self, url: str, event: dict, *, event_id: str) -> int | None:
        """Deliver `event`; if the app does not acknowledge it, retry in the background as Slack does.
        Returns the first attempt's status (None: the app did not answer)."""
        try:
            status, _ = await self.event(url, event, event_id=event_id)
        except AppUnreachable as exc:
            log.warning("slack emulator: %s", exc)
            status = None
        if status is None or status >= 300:
            task = asyncio.ensure_future(self._retry(url, event, event_id))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
        return status

    async def _retry(self, url: str, event: dict, event_id: str) -> None:
        for number, delay in enumerate(self.retry_delays, start=1):
            await asyncio.sleep(delay)
            try:
                status, _ = await self.event(url, event, event_id=event_id, retry_num=number)
            except AppUnreachable:
                continue
            if status < 300:
                return
        log.warning("slack emulator: the app never acknowledged event %s", event_id)

    async def command(self, url: str, form: dict) -> tuple[int, str]:
        """POST a slash command (form-encoded); its trigger_id becomes usable for views."""
        self.state.remember_trigger(form["trigger_id"], form["user_id"])
        return await self.post("command", url, urlencode(form), "application/x-www-form-urlencoded")

    async def interaction(self, url: str, payload: dict, **overrides: Any) -> tuple[int, str]:
        """POST an interactivity payload (form field `payload` = JSON); its trigger_id becomes usable."""
        user = payload["user"] if isinstance(payload.get("user"), dict) else {}
        if payload.get("trigger_id"):
            self.state.remember_trigger(str(payload["trigger_id"]), str(user.get("id") or ""))
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post("action", url, body, "application/x-www-form-urlencoded", **overrides)


def decode(text: str) -> Any:
    """An answer body: its JSON when it is JSON, else the text (None when empty)."""
    try:
        return json.loads(text)
    except ValueError:
        return text or None
