"""The hostile requests of issue 23, one list for the tests and for firing at a running server.

Each request is what an attacker (or a broken client) can send: unsigned, or signed with a secret we hold in
a test. `python -m tests.security.hostile_requests URL` fires them all at a running server and counts the
answers per route; see `main` for the secrets it signs with.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
LINE = "+14155550100"
CHANNEL = "C0SUPPORT"
ADMIN = "U0ADMIN"
NOT_PHONE_NUMBERS = ("+1", "abc", "0", "<script>", "+999999999999999999", "ACME")
HUGE = "99999999999999999999"
LONG_DIGITS = "9" * 5000


@dataclass(frozen=True)
class Secrets:
    """What the requests are signed with; None leaves that kind unsigned."""

    slack_signing_secret: str | None = None
    twilio_auth_token: str | None = None
    api_token: str | None = None


@dataclass(frozen=True)
class Hostile:
    """One request. `sign`: none | slack | twilio | bearer. `form` (twilio) is signed field by field."""

    label: str
    method: str
    path: str
    body: bytes = b""
    content_type: str = ""
    sign: str = "none"
    form: dict = field(default_factory=dict)

    @property
    def route(self) -> str:
        """The route it is counted under: the path up to its variable part."""
        for prefix in ("/media/", "/l/", "/api/v1/notifications/"):
            if self.path.startswith(prefix):
                return prefix + "{…}"
        return self.path.split("?")[0]


def _json(value) -> bytes:
    return json.dumps(value).encode()


def _slack_json(label: str, payload) -> Hostile:
    return Hostile(label, "POST", "/slack/events", _json(payload), JSON, "slack")


def _slack_form(label: str, fields: dict) -> Hostile:
    return Hostile(label, "POST", "/slack/events", urlencode(fields).encode(), FORM, "slack")


def _action(label: str, payload: dict) -> Hostile:
    return _slack_form(label, {"payload": json.dumps(payload)})


def _command(label: str, text: str, user: str = ADMIN, **extra) -> Hostile:
    fields = {"command": "/sms", "text": text, "user_id": user, "channel_id": CHANNEL, "team_id": "T0TEST"}
    return _slack_form(label, {**fields, **extra})


def _twilio(label: str, path: str, fields: dict) -> Hostile:
    return Hostile(label, "POST", path, urlencode(fields).encode(), FORM, "twilio", fields)


def _inbound(label: str, **fields) -> Hostile:
    sid = fields.pop("MessageSid", "SM" + hashlib.md5(label.encode()).hexdigest())
    return _twilio(label, "/sms/twilio/inbound", {"MessageSid": sid, "To": LINE, "Body": "hi", **fields})


def _event(label: str, event, **envelope) -> Hostile:
    payload = {"type": "event_callback", "team_id": "T0TEST", "api_app_id": "A0TEST", "event_id": "Ev" + label[:20]}
    return _slack_json(label, {**payload, "event": event, **envelope})


def thread_reply(channel: str = CHANNEL, thread_ts: str = "1700000000.000100", text: str = "forged") -> dict:
    """A person's thread reply, as the Events API carries it."""
    return {
        "type": "message",
        "channel": channel,
        "user": "U0AGENT",
        "text": text,
        "ts": "1700000001.000200",
        "thread_ts": thread_ts,
    }


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def requests() -> list[Hostile]:
    """Every hostile request of the issue, by finding."""
    view = {"type": "modal", "callback_id": "campaign_create", "state": {"values": {}}}
    return [
        # 2. media tokens
        Hostile("media non-ascii", "GET", "/media/%C3%BC.1.%C3%BC"),
        Hostile("media superscript expiry", "GET", "/media/a.%C2%B2.b"),
        Hostile("media huge expiry", "GET", f"/media/a.{LONG_DIGITS}.b"),
        Hostile("media NUL", "GET", "/media/%00.1.x"),
        Hostile("link non-ascii", "GET", "/l/%C3%BC"),
        Hostile("link NUL", "GET", "/l/a%00b"),
        # 3, 4. ids
        Hostile("notification superscript", "GET", "/api/v1/notifications/%C2%B2", sign="bearer"),
        Hostile("notification 5000 digits", "GET", f"/api/v1/notifications/{LONG_DIGITS}", sign="bearer"),
        Hostile("notification beyond BIGINT", "GET", f"/api/v1/notifications/{HUGE}", sign="bearer"),
        _command("campaign show superscript", "campaign show ²"),
        _command("campaign show 5000 digits", f"campaign show {LONG_DIGITS}"),
        _command("campaign show beyond BIGINT", f"campaign show {HUGE}"),
        _command("campaign report beyond BIGINT", f"campaign report {HUGE}"),
        _command("campaign approve beyond BIGINT", f"campaign approve {HUGE}"),
        _action(
            "approve button beyond BIGINT",
            {
                "type": "block_actions",
                "user": {"id": ADMIN},
                "channel": {"id": CHANNEL},
                "actions": [{"action_id": "campaign_approve", "value": HUGE, "type": "button"}],
            },
        ),
        _twilio(
            "status ErrorCode beyond INTEGER",
            "/sms/twilio/status",
            {"MessageSid": "SMx", "MessageStatus": "failed", "ErrorCode": HUGE},
        ),
        # 5. deep JSON
        Hostile("notify deep JSON", "POST", "/api/v1/notify", deep(60_000), JSON, "bearer"),
        Hostile("alertmanager deep JSON", "POST", "/api/v1/alertmanager", deep(60_000), JSON, "bearer"),
        Hostile("slack deep JSON", "POST", "/slack/events", deep(60_000), JSON, "slack"),
        _slack_form("slack deep payload", {"payload": deep(60_000).decode()}),
        Hostile(
            "notify 5000-digit number",
            "POST",
            "/api/v1/notify",
            b'{"to": "group:oncall", "text": ' + LONG_DIGITS.encode() + b"}",
            JSON,
            "bearer",
        ),
        # 6. lone surrogates, NUL
        Hostile(
            "notify lone surrogate",
            "POST",
            "/api/v1/notify",
            b'{"to": "group:oncall", "text": "a\\ud800b"}',
            JSON,
            "bearer",
        ),
        Hostile("notify NUL", "POST", "/api/v1/notify", b'{"to": "group:oncall", "text": "a\\u0000b"}', JSON, "bearer"),
        Hostile(
            "notify NUL target", "POST", "/api/v1/notify", b'{"to": "group:on\\u0000call", "text": "x"}', JSON, "bearer"
        ),
        Hostile(
            "alertmanager NUL",
            "POST",
            "/api/v1/alertmanager",
            _json(
                {
                    "version": "4",
                    "groupKey": "k\x00",
                    "status": "firing",
                    "receiver": "oncall",
                    "groupLabels": {},
                    "commonLabels": {"alertname": "a\ud800b"},
                    "commonAnnotations": {},
                    "alerts": [
                        {"status": "firing", "labels": {}, "annotations": {}, "startsAt": "2030-01-01T00:00:00Z"}
                    ],
                }
            ),
            JSON,
            "bearer",
        ),
        _command("/sms notify NUL", "notify oncall page\x00me"),
        _command("campaign create NUL name", "campaign create name=a\x00b to=all at=now text=hello"),
        _command("/sms send NUL", "send +14155550123 hi\x00there"),
        _event("thread reply NUL", thread_reply(text="a\x00b")),
        # 7. lengths the schema does not hold
        _inbound("inbound From too long", From="+1" + "4" * 30),
        _inbound("inbound MessageSid too long", From="+14155550123", MessageSid="SM" + "a" * 100),
        _twilio("status too long", "/sms/twilio/status", {"MessageSid": "SMx", "MessageStatus": "x" * 40}),
        _twilio(
            "status MessageSid too long",
            "/sms/twilio/status",
            {"MessageSid": "SM" + "b" * 100, "MessageStatus": "sent"},
        ),
        _inbound("inbound NumMedia superscript", From="+14155550123", NumMedia="²"),
        _inbound("inbound NumMedia 5000 digits", From="+14155550123", NumMedia=LONG_DIGITS),
        _event("thread reply long ts", {**thread_reply(), "ts": "1" * 100}),
        _event("thread reply long user", {**thread_reply(), "user": "U" * 100}),
        _event("event_id too long", thread_reply(), event_id="Ev" + "x" * 300),
        # 8. signed Slack payloads of the wrong shape
        _slack_json("slack JSON array", [1, 2]),
        _slack_json("slack JSON string", "hello"),
        _event("event as a string", "message"),
        _event("event text an int", {**thread_reply(), "text": 5}),
        _event("event files not a list", {**thread_reply(), "files": "x"}),
        _action(
            "button without user",
            {"type": "block_actions", "actions": [{"action_id": "campaign_approve", "value": "1"}]},
        ),
        _action(
            "opt-out without response_url",
            {
                "type": "block_actions",
                "user": {"id": ADMIN},
                "channel": {"id": CHANNEL},
                "actions": [{"action_id": "conversation_opt_out", "value": "+14155550123", "type": "button"}],
            },
        ),
        _action("payload a JSON array", [1]),  # type: ignore[arg-type]
        _action(
            "view without type",
            {"type": "view_submission", "user": {"id": ADMIN}, "view": {"callback_id": "campaign_create"}},
        ),
        _action("view a string", {"type": "view_submission", "user": {"id": ADMIN}, "view": "x"}),
        _action(
            "campaign modal state not an object",
            {"type": "view_submission", "user": {"id": ADMIN}, "view": {**view, "state": {"values": {"name": "x"}}}},
        ),
        _action(
            "contacts import without a file",
            {
                "type": "view_submission",
                "user": {"id": ADMIN},
                "view": {
                    "type": "modal",
                    "callback_id": "contacts_import",
                    "private_metadata": json.dumps({"channel": CHANNEL}),
                    "state": {"values": {"contacts_file": {"file": {"type": "file_input", "files": []}}}},
                },
            },
        ),
        _command("command text too long", "notify oncall " + "x" * 20_000),
        _command("command user too long", "help", user="U" * 100),
        # 9. texts to senders that are not phone numbers
        *[
            _inbound(f"{word} from {sender!r}", From=sender, Body=word)
            for sender in NOT_PHONE_NUMBERS
            for word in ("STOP", "HELP", "START")
        ],
    ]


def socket_mode_requests() -> list[Hostile]:
    """What must be refused when the server takes Slack over Socket Mode and has no signing secret."""
    return [
        Hostile(
            "forged thread reply",
            "POST",
            "/slack/events",
            _json({"type": "event_callback", "event": thread_reply()}),
            JSON,
        ),
        _command("forged command", "help"),
        Hostile(
            "forged url_verification",
            "POST",
            "/slack/events",
            _json({"type": "url_verification", "challenge": "x"}),
            JSON,
        ),
    ]


def signed_headers(request: Hostile, url: str, secrets: Secrets) -> dict[str, str]:
    """The headers that make `request` look like it came from Slack, Twilio or an API client."""
    headers = {"Content-Type": request.content_type} if request.content_type else {}
    if request.sign == "slack" and secrets.slack_signing_secret:
        timestamp = str(int(time.time()))
        verifier = SignatureVerifier(secrets.slack_signing_secret)
        headers["X-Slack-Request-Timestamp"] = timestamp
        headers["X-Slack-Signature"] = verifier.generate_signature(timestamp=timestamp, body=request.body)
    elif request.sign == "twilio" and secrets.twilio_auth_token:
        headers["X-Twilio-Signature"] = RequestValidator(secrets.twilio_auth_token).compute_signature(url, request.form)
    elif request.sign == "bearer" and secrets.api_token:
        headers["Authorization"] = f"Bearer {secrets.api_token}"
    return headers


async def fire(
    http: aiohttp.ClientSession, base_url: str, request: Hostile, secrets: Secrets, public_url: str | None = None
) -> tuple[int, str]:
    """Send one request; returns (status, body text)."""
    signed_url = (public_url or base_url) + request.path
    headers = signed_headers(request, signed_url, secrets)
    async with http.request(
        request.method, base_url + request.path, data=request.body or None, headers=headers
    ) as resp:
        return resp.status, await resp.text()


async def fire_all(base_url: str, batch: list[Hostile], secrets: Secrets) -> dict[str, Counter]:
    """Every request of `batch`, one after the other; answers counted by route and status."""
    counts: dict[str, Counter] = defaultdict(Counter)
    async with aiohttp.ClientSession() as http:
        for request in batch:
            status, text = await fire(http, base_url, request, secrets)
            counts[request.route][status] += 1
            if status >= 500:
                print(f"  {status} {request.label}: {text[:120]!r}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url", help="the server, e.g. http://127.0.0.1:3195")
    parser.add_argument("--slack-signing-secret")
    parser.add_argument("--twilio-auth-token")
    parser.add_argument("--api-token")
    parser.add_argument("--socket-mode", action="store_true", help="fire the Socket Mode requests (unsigned)")
    args = parser.parse_args()
    secrets = Secrets(args.slack_signing_secret, args.twilio_auth_token, args.api_token)
    batch = socket_mode_requests() if args.socket_mode else requests()
    counts = asyncio.run(fire_all(args.url.rstrip("/"), batch, secrets))
    for route, by_status in sorted(counts.items()):
        print(f"{route}: {dict(sorted(by_status.items()))}")
    print("5xx:", sum(n for by_status in counts.values() for status, n in by_status.items() if status >= 500))


if __name__ == "__main__":
    main()
