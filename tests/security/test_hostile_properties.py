"""Property-based: generated hostile input to every route and every kind of Slack payload (events, slash
commands, block_actions, view_submission), signed where the route needs it, on SQLite and PostgreSQL.

Whatever comes in: never a 5xx (nor a traceback), and a refusal (4xx) changes nothing stored. Run with `-s`
to see how many requests each route got and what it answered.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.notify.helpers import CONFIG, TOKEN
from tests.security import hostile_requests as hostile
from tests.security.hostile_requests import ADMIN, CHANNEL, FORM, JSON, LINE, Hostile
from tests.support.snapshot import stored_state

EXAMPLES = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
ANSWERS: dict[str, Counter] = defaultdict(Counter)

# Text as an attacker writes it: anything Unicode has (lone surrogates too), plus the values that broke things.
NASTY = st.one_of(
    st.text(st.characters(blacklist_categories=()), max_size=40),
    st.sampled_from(["\x00", "a\ud800b", "²", "٣", hostile.HUGE, "-1", "0", "<script>", "+1", "x" * 300, "9" * 5000]),
)
SCALARS = st.one_of(NASTY, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NASTY, inner, max_size=3), max_leaves=8
)
# A field as it arrives in a JSON payload: usually the right kind, sometimes anything at all.
FIELD = st.one_of(NASTY, JSON_VALUES)


def maybe(fields: dict) -> st.SearchStrategy[dict]:
    """`fields` with some values replaced by hostile ones and some left out."""
    return st.fixed_dictionaries(
        {}, optional={name: st.one_of(st.just(value), FIELD) for name, value in fields.items()}
    )


@pytest.fixture
async def still_bridge(make_bridge):
    return await make_bridge(config=CONFIG, run_workers=False)


@pytest.fixture
def report(request):
    yield
    name = request.node.name
    for route, statuses in sorted(ANSWERS.items()):
        print(f"\n[{name}] {route}: {sum(statuses.values())} requests, answers {dict(sorted(statuses.items()))}")
    ANSWERS.clear()


async def check(bridge, slack, twilio, request: Hostile) -> None:
    before = await stored_state(bridge.services.db)
    async with aiohttp.ClientSession() as http:
        status, text = await hostile.fire(
            http, bridge.url, request, hostile.Secrets(slack.signing_secret, twilio.auth_token, TOKEN)
        )
    ANSWERS[request.route][status] += 1
    assert status < 500, (request, status, text)
    assert "Traceback" not in text and 'File "' not in text
    if status >= 400:
        assert await stored_state(bridge.services.db) == before, (request, status, text)


def _json_bytes(value) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


# -- unauthenticated GET routes --------------------------------------------------------------------------


@EXAMPLES
@given(prefix=st.sampled_from(["/media/", "/l/", "/api/v1/notifications/"]), tail=NASTY, dots=st.integers(0, 3))
async def test_path_parameters(still_bridge, slack, twilio, report, prefix, tail, dots):
    value = ".".join([tail] * (dots + 1)) if prefix == "/media/" else tail
    path = prefix + quote(value.encode("utf-8", "surrogatepass"), safe="")
    if not value:
        path += "x"
    await check(still_bridge, slack, twilio, Hostile("path", "GET", path, sign="bearer"))


# -- the API ---------------------------------------------------------------------------------------------


@EXAMPLES
@given(
    path=st.sampled_from(["/api/v1/notify", "/api/v1/alertmanager"]),
    body=st.one_of(
        maybe({"to": "group:oncall", "text": "disk full"}),
        maybe({"version": "4", "groupKey": "k", "status": "firing", "receiver": "oncall", "alerts": []}),
        JSON_VALUES,
    ),
    sign=st.sampled_from(["bearer", "bearer", "none"]),
)
async def test_api_json(still_bridge, slack, twilio, report, path, body, sign):
    await check(still_bridge, slack, twilio, Hostile("api", "POST", path, _json_bytes(body), JSON, sign))


# -- Twilio ----------------------------------------------------------------------------------------------

FORM_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["\x00", "²", hostile.HUGE, "9" * 300, "x" * 100, "+1", "abc", "STOP", "HELP"]
)


@EXAMPLES
@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            "MessageSid": FORM_TEXT,
            "From": FORM_TEXT,
            "To": st.just(LINE) | FORM_TEXT,
            "Body": FORM_TEXT,
            "NumMedia": FORM_TEXT,
            "MediaUrl0": FORM_TEXT,
            "MessagingServiceSid": FORM_TEXT,
        },
    )
)
# Found by this test: a Messaging Service SID longer than its column reached the database.
@example(fields={"From": "0", "To": LINE, "MessageSid": "0", "MessagingServiceSid": "9" * 300})
async def test_twilio_inbound(still_bridge, slack, twilio, report, fields):
    body = urlencode(fields).encode()
    await check(still_bridge, slack, twilio, Hostile("in", "POST", "/sms/twilio/inbound", body, FORM, "twilio", fields))


@EXAMPLES
@given(
    fields=st.fixed_dictionaries(
        {}, optional={"MessageSid": FORM_TEXT, "MessageStatus": FORM_TEXT, "ErrorCode": FORM_TEXT, "SmsSid": FORM_TEXT}
    )
)
async def test_twilio_status(still_bridge, slack, twilio, report, fields):
    body = urlencode(fields).encode()
    await check(still_bridge, slack, twilio, Hostile("st", "POST", "/sms/twilio/status", body, FORM, "twilio", fields))


# -- Slack: every kind of payload ------------------------------------------------------------------------


@EXAMPLES
@given(
    event=st.one_of(maybe(hostile.thread_reply()), FIELD),
    envelope=maybe({"type": "event_callback", "event_id": "Ev0PROPERTY", "team_id": "T0TEST"}),
)
async def test_slack_events(still_bridge, slack, twilio, report, event, envelope):
    body = {**envelope, "event": event} if isinstance(envelope, dict) else envelope
    await check(
        still_bridge, slack, twilio, Hostile("event", "POST", "/slack/events", _json_bytes(body), JSON, "slack")
    )


@EXAMPLES
@given(
    words=st.sampled_from(["", "help", "send +14155550123", "notify oncall", "campaign show", "campaign create name="]),
    text=FORM_TEXT,
    fields=st.fixed_dictionaries({}, optional={"user_id": FORM_TEXT, "channel_id": FORM_TEXT, "trigger_id": FORM_TEXT}),
)
async def test_slack_commands(still_bridge, slack, twilio, report, words, text, fields):
    form = {"command": "/sms", "user_id": ADMIN, "channel_id": CHANNEL, "text": f"{words} {text}".strip(), **fields}
    body = urlencode(form).encode()
    await check(still_bridge, slack, twilio, Hostile("command", "POST", "/slack/events", body, FORM, "slack"))


ACTIONS = [
    "campaign_approve",
    "campaign_cancel",
    "conversation_opt_out",
    "stop_request_confirm",
    "stop_request_dismiss",
]


@EXAMPLES
@given(
    action=maybe({"action_id": "campaign_approve", "value": "1", "type": "button"}),
    action_id=st.sampled_from(ACTIONS),
    payload=maybe({"user": {"id": ADMIN}, "channel": {"id": CHANNEL}, "response_url": "http://127.0.0.1:9/x"}),
)
async def test_slack_block_actions(still_bridge, slack, twilio, report, action, action_id, payload):
    if isinstance(action, dict):
        action = {**action, "action_id": action.get("action_id", action_id)}
    body = {"type": "block_actions", **payload, "actions": [action]}
    form = urlencode({"payload": json.dumps(body)}).encode()
    await check(still_bridge, slack, twilio, Hostile("actions", "POST", "/slack/events", form, FORM, "slack"))


@EXAMPLES
@given(
    callback_id=st.sampled_from(["campaign_create", "contacts_import"]),
    values=st.dictionaries(
        st.sampled_from(["name", "line", "to", "purpose", "text", "at", "contacts_file"]),
        st.one_of(
            st.fixed_dictionaries(
                {"value": st.fixed_dictionaries({"type": st.just("plain_text_input"), "value": FIELD})}
            ),
            st.fixed_dictionaries({"file": st.fixed_dictionaries({"type": st.just("file_input"), "files": FIELD})}),
            FIELD,
        ),
        max_size=4,
    ),
    view=maybe({"type": "modal", "private_metadata": json.dumps({"channel": CHANNEL})}),
)
async def test_slack_view_submissions(still_bridge, slack, twilio, report, callback_id, values, view):
    submitted = {**view, "callback_id": callback_id, "state": {"values": values}}
    body = {"type": "view_submission", "user": {"id": ADMIN}, "view": submitted}
    form = urlencode({"payload": json.dumps(body)}).encode()
    await check(still_bridge, slack, twilio, Hostile("view", "POST", "/slack/events", form, FORM, "slack"))
