"""Telnyx's own OpenAPI description of its API v2 (tests/openapi/telnyx_api_v2.messaging.json, trimmed from
team-telnyx/openapi to sending and retrieving a message, the detail record search and the messaging webhooks; its
"x-source" says where and when from), applied to the traffic between the bridge and the Telnyx emulator:

- every request the bridge makes to the API: a path and method the description has (its paths are relative to
  the server URL, https://api.telnyx.com/v2), path parameters of their format, query parameters it names (the
  `filter[...]` and `page[...]` deepObject ones by their members, with their types, enums and bounds), and a JSON
  body that fits the request schema (required fields, types, enums, formats, no field the schema lacks);
- every answer of the emulator the operation documents (its successes, and errors where a 400 or 4XX body is
  described): a body that fits the response schema (types, nullability, enums, bounds, ISO 8601 dates, UUIDs,
  and no property the schema lacks unless it allows more);
- every webhook the emulator sends: `message.received` against the inboundMessage callback's body
  (InboundMessageEvent), `message.sent` and `message.finalized` against deliveryUpdate's (OutboundMessageEvent).

Media downloads (`/v2/media/...`, where inbound MMS media is served) are not part of the description; they are not
checked.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from tests.support.openapi_paths import PathTemplates, resolve

SPEC_PATH = Path(__file__).resolve().parents[1] / "openapi" / "telnyx_api_v2.messaging.json"
SPEC: dict = json.loads(SPEC_PATH.read_text())
CHECKED: Counter[str] = Counter()  # "requests", "answers", "webhooks", "violations" over the test session
PREFIX = "/v2"  # the server URL's path: the description's paths are below it
_TEMPLATES = PathTemplates(SPEC)
_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
    "null": type(None),
}
_WEBHOOKS = {
    "message.received": "inboundMessage",
    "message.sent": "deliveryUpdate",
    "message.finalized": "deliveryUpdate",
}


def _resolve(schema: dict) -> dict:
    return resolve(SPEC, schema)


def described(path: str) -> bool:
    """Whether `path` is an API path the description could have (media downloads are not)."""
    return path.startswith(PREFIX + "/") and not path.startswith(PREFIX + "/media/")


def operation(method: str, path: str) -> tuple[str, dict] | None:
    """(path template, operation) for a request, or None when the document has no such path."""
    return _TEMPLATES.operation(method, path[len(PREFIX) :] if path.startswith(PREFIX + "/") else path)


def _type_matches(value: Any, expected: str) -> bool:
    if expected in ("integer", "number") and isinstance(value, bool):
        return False
    if expected == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[expected])


def _format_problem(value: str, fmt: str) -> str | None:
    if fmt == "date-time":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "is not an ISO 8601 date-time"
    elif fmt == "uuid":
        try:
            uuid.UUID(value)
        except ValueError:
            return "is not a UUID"
    elif fmt == "url" and not re.match(r"^https?://[^/\s]+", value):
        return "is not an http(s) URL"
    return None


def _discriminates(alternative: dict, name: str, value: dict) -> bool:
    """Whether `value`'s discriminating property names `alternative` (by its enum or its default: the description
    gives no mapping)."""
    member = _resolve(_resolve(alternative).get("properties", {}).get(name, {}))
    return value.get(name) in member.get("enum", []) or value.get(name) == member.get("default")


def schema_problems(value: Any, schema: dict, where: str) -> list[str]:
    """What in `value` does not fit `schema` (OpenAPI 3.1: a list of types, "null" among them, is nullability)."""
    schema = _resolve(schema)
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if alternatives and isinstance(value, dict) and "discriminator" in schema:
        chosen = [a for a in alternatives if _discriminates(a, schema["discriminator"]["propertyName"], value)]
        if not chosen:
            name = schema["discriminator"]["propertyName"]
            return [f"{where}.{name}: {value.get(name)!r} names none of the schemas it may be"]
        alternatives = chosen
    if alternatives:
        outcomes = [schema_problems(value, alternative, where) for alternative in alternatives]
        if not all(outcomes):
            outcomes = [[]]
        rest = {key: item for key, item in schema.items() if key not in ("oneOf", "anyOf", "discriminator")}
        return min(outcomes, key=len) + (schema_problems(value, rest, where) if rest else [])
    problems: list[str] = []
    for part in schema.get("allOf", []):
        problems += schema_problems(value, part, where)
    expected = schema.get("type")
    types = [expected] if isinstance(expected, str) else list(expected or [])
    if value is None:
        if types and "null" not in types and not schema.get("nullable"):
            problems.append(f"{where}: null, the schema does not allow it")
        return problems
    if types and not any(_type_matches(value, name) for name in types):
        return [*problems, f"{where}: {type(value).__name__} {value!r}, the schema says {'/'.join(types)}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        problem = _format_problem(value, schema.get("format", ""))
        if problem:
            problems.append(f"{where}: {value!r} {problem}")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            problems.append(f"{where}: {value!r} is not {schema.get('minLength', 0)}-{schema.get('maxLength')} long")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where}: {value} is above the maximum {schema['maximum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{where}.{name}: required, missing")
        for key, item in value.items():
            if key in properties:
                problems += schema_problems(item, properties[key], f"{where}.{key}")
            elif properties and not schema.get("additionalProperties"):
                problems.append(f"{where}.{key}: not a property of {schema.get('title') or 'the schema'}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += schema_problems(item, schema["items"], f"{where}[{i}]")
    return problems


def _query_value(raw: str, schema: dict) -> Any:
    """A query string value as the schema's type reads it (what cannot be read stays a string)."""
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if "integer" in types and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if "boolean" in types and raw in ("true", "false"):
        return raw == "true"
    return raw


def _query_problems(op: dict, query: str, where: str) -> list[str]:
    parameters = {p["name"]: p for p in op.get("parameters", []) if p.get("in") == "query"}
    problems: list[str] = []
    objects: dict[str, dict] = {}  # deepObject parameter -> its members as given
    for name, raw in parse_qsl(query, keep_blank_values=True):
        base, *keys = re.findall(r"^[^\[]+|(?<=\[)[^\]]*(?=\])", name)
        parameter = parameters.get(base)
        if parameter is None:
            problems.append(f"{where}: query parameter {name!r} is not in Telnyx's API description")
            continue
        schema = _resolve(parameter.get("schema", {}))
        if parameter.get("style") == "deepObject" and keys:
            member = schema.get("properties", {}).get(keys[0])
            if member is None and not schema.get("additionalProperties"):
                problems.append(f"{where}: query parameter {name!r}: {keys[0]!r} is not a member of {base}")
                continue
            if member is not None and len(keys) == 1:
                objects.setdefault(base, {})[keys[0]] = _query_value(raw, _resolve(member))
            else:
                objects.setdefault(base, {})[keys[0]] = {}  # an operator on an attribute, e.g. [created_at][gte]
            continue
        if keys:
            problems.append(f"{where}: query parameter {name!r}: {base} takes no members")
            continue
        item = _resolve(schema.get("items", {})) if schema.get("type") == "array" else schema
        problems += schema_problems(_query_value(raw, item), item, f"{where}: query parameter {name}")
    for base, members in objects.items():
        schema = _resolve(parameters[base].get("schema", {}))
        given = {key: value for key, value in members.items() if value != {} or key in schema.get("properties", {})}
        for problem in schema_problems(given, {**schema, "additionalProperties": True}, f"{where}: query {base}"):
            problems.append(problem)
    for name, parameter in parameters.items():
        if parameter.get("required") and name not in objects and not any(n == name for n, _ in parse_qsl(query)):
            problems.append(f"{where}: required query parameter {name!r} missing")
    return problems


def request_problems(method: str, path: str, query: str, body: bytes, content_type: str) -> list[str]:
    """What Telnyx's description does not allow in a request (`query`: the raw query string)."""
    CHECKED["requests"] += 1
    found = operation(method, path)
    if found is None:
        return [f"{method} {path}: no such path in Telnyx's API description"]
    template, op = found
    if not op:
        return [f"{method} {template}: Telnyx's API description has no such method on this path"]
    where = f"{method} {template}"
    problems: list[str] = []
    pattern = re.escape(PREFIX + template)
    names = re.findall(r"\\\{(\w+)\\\}", pattern)
    match = re.match("^" + re.sub(r"\\\{\w+\\\}", "([^/]+)", pattern) + "$", path)
    values = dict(zip(names, match.groups(), strict=True)) if match else {}
    for parameter in op.get("parameters", []):
        if parameter.get("in") == "path" and parameter["name"] in values:
            schema = _resolve(parameter.get("schema", {}))
            problems += schema_problems(
                values[parameter["name"]], schema, f"{where}: path parameter {parameter['name']}"
            )
    problems += _query_problems(op, query, where)
    if body or "requestBody" in op:
        content = op.get("requestBody", {}).get("content", {})
        if content_type not in content:
            return [*problems, f"{where}: a {content_type or 'no'} body, Telnyx takes {sorted(content) or 'none'}"]
        try:
            document = json.loads(body)
        except ValueError:
            return [*problems, f"{where}: the body is not JSON"]
        problems += schema_problems(document, content[content_type].get("schema", {}), f"{where} body")
    return problems


def _documented(op: dict, status: int) -> dict | None:
    responses = op.get("responses", {})
    found = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
    return _resolve(found) if found is not None else None


def answer_problems(method: str, path: str, status: int, content_type: str, body: bytes) -> list[str]:
    """What does not fit the operation's documented answer (a success it does not document is a problem; an error
    status it does not document is not checked)."""
    found = operation(method, path)
    if found is None or not found[1]:
        return []
    template, op = found
    documented = _documented(op, status)
    if documented is None:
        if status >= 300:
            return []
        CHECKED["answers"] += 1
        return [f"{method} {template}: answered {status}, Telnyx documents {sorted(op.get('responses', {}))}"]
    CHECKED["answers"] += 1
    schema = documented.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return []
    if content_type != "application/json":
        return [f"{method} {template}: answered {content_type}, Telnyx answers application/json"]
    try:
        document = json.loads(body)
    except ValueError:
        return [f"{method} {template}: answered {status} with a body that is not JSON"]
    return schema_problems(document, schema, f"{method} {template} {status}")


def webhook_problems(document: Any) -> list[str]:
    """What in a webhook the emulator sends does not fit the description's callback for its event type."""
    CHECKED["webhooks"] += 1
    data = document.get("data") if isinstance(document, dict) else None
    event_type = data.get("event_type") if isinstance(data, dict) else None
    name = _WEBHOOKS.get(str(event_type))
    if name is None:
        return [f"webhook {event_type!r}: not a messaging event Telnyx's API description has"]
    schema = SPEC["webhooks"][name]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return schema_problems(document, schema, f"webhook {event_type}")


def watch(emulator: Any) -> list[str]:
    """Check every API request to `emulator` (a TelnyxEmulator), its answer, and every webhook it sends; returns
    the list the violations are kept in, each naming the request or event and the test."""
    import os

    from tests.emulators._base import RECORD_KEY

    violations: list[str] = []

    def found(what: str, problems: list[str]) -> None:
        if problems:
            CHECKED["violations"] += 1
            test = os.environ.get("PYTEST_CURRENT_TEST", "outside a test").rsplit(" (", 1)[0]
            violations.append(f"{what} in {test}: " + "; ".join(problems))

    def check(request: Any, response: Any) -> None:
        if not described(request.path):
            return
        record = request.get(RECORD_KEY) or {}
        content_type = request.content_type if record.get("body") else ""
        problems = request_problems(
            request.method, request.path, request.query_string, record.get("body") or b"", content_type
        )
        body = getattr(response, "body", None)
        if isinstance(body, bytes):
            problems += answer_problems(request.method, request.path, response.status, response.content_type, body)
        found(f"{request.method} {request.path}", problems)

    def check_event(document: dict) -> None:
        data = document.get("data") if isinstance(document.get("data"), dict) else {}
        found(f"webhook {data.get('event_type')} {data.get('id')}", webhook_problems(document))

    emulator.answer_hooks.append(check)
    emulator.event_hooks.append(check_event)
    return violations
