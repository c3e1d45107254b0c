"""Twilio's own OpenAPI description of its 2010-04-01 REST API (tests/openapi/twilio_api_v2010.messages.json,
trimmed from twilio/twilio-oai to the Messages and Media resources; its "x-source" says where and when from),
applied to the traffic between the bridge and the Twilio emulator:

- every request the bridge makes to the REST API: a path and method the description has, form fields and query
  parameters it names, required fields present, enum values among the allowed ones;
- every successful answer of the emulator: the status the operation documents, and a body that fits the
  operation's response schema (types, nullability, enums, RFC 2822 dates, and no property the schema lacks).

Media content URLs (``.../Media/{Sid}`` without ``.json``, what inbound MMS webhooks link to) serve the file
itself and are not described by the document; they are not checked.
"""

from __future__ import annotations

import email.utils
import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from tests.support.openapi_paths import PathTemplates, resolve

SPEC_PATH = Path(__file__).resolve().parents[1] / "openapi" / "twilio_api_v2010.messages.json"
SPEC: dict = json.loads(SPEC_PATH.read_text())
CHECKED: Counter[str] = Counter()  # "requests", "answers", "violations" over the test session
_TEMPLATES = PathTemplates(SPEC)
_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


def _resolve(schema: dict) -> dict:
    return resolve(SPEC, schema)


def described(path: str) -> bool:
    """Whether the document describes `path` (media content downloads are not)."""
    return path.endswith(".json")


def operation(method: str, path: str) -> tuple[str, dict] | None:
    """(path template, operation) for a request, or None when the document has no such path."""
    return _TEMPLATES.operation(method, path)


def schema_problems(value: Any, schema: dict, where: str) -> list[str]:
    schema = _resolve(schema)
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null, the schema does not allow it"]
    expected = schema.get("type")
    if (
        expected
        and not isinstance(value, _TYPES[expected])
        or (expected in ("integer", "number") and isinstance(value, bool))
    ):
        return [f"{where}: {type(value).__name__} {value!r}, the schema says {expected}"]
    problems = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if schema.get("format") == "date-time-rfc-2822":
        try:
            email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            problems.append(f"{where}: {value!r} is not an RFC 2822 date")
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                problems.append(f"{where}.{key}: not a property of {schema.get('title') or 'the schema'}")
            else:
                problems += schema_problems(item, schema["properties"][key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += schema_problems(item, schema["items"], f"{where}[{i}]")
    return problems


def request_problems(method: str, path: str, query: str, form: list[tuple[str, str]]) -> list[str]:
    """What Twilio's description does not allow in a request (`query`: the raw query string)."""
    CHECKED["requests"] += 1
    found = operation(method, path)
    if found is None:
        return [f"{method} {path}: no such path in Twilio's API description"]
    template, op = found
    if not op:
        return [f"{method} {template}: Twilio's API description has no such method on this path"]
    problems = []
    parameters = {p["name"]: p for p in op.get("parameters", []) if p.get("in") == "query"}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in parameters:
            problems.append(f"{method} {template}: query parameter {name!r} is not in Twilio's API description")
        elif _resolve(parameters[name].get("schema", {})).get("type") == "integer" and not value.isdigit():
            problems.append(f"{method} {template}: query parameter {name}={value!r} is not an integer")
    if form or "requestBody" in op:
        schema = _resolve(
            op.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded", {}).get("schema", {})
        )
        properties = schema.get("properties", {})
        names = {name for name, _ in form}
        for name in schema.get("required", []):
            if name not in names:
                problems.append(f"{method} {template}: required form field {name!r} missing")
        for name, value in form:
            if name not in properties:
                problems.append(f"{method} {template}: form field {name!r} is not in Twilio's API description")
                continue
            field = _resolve(properties[name])
            field = _resolve(field["items"]) if field.get("type") == "array" else field
            if "enum" in field and value not in field["enum"]:
                problems.append(f"{method} {template}: form field {name}={value!r} is not one of {field['enum']}")
    return problems


def answer_problems(method: str, path: str, status: int, content_type: str, body: bytes) -> list[str]:
    """What does not fit the operation's documented answer (successful answers only: the document describes
    no error bodies)."""
    if status >= 300:
        return []
    CHECKED["answers"] += 1
    found = operation(method, path)
    if found is None or not found[1]:
        return []
    template, op = found
    documented = op.get("responses", {}).get(str(status))
    if documented is None:
        return [f"{method} {template}: answered {status}, Twilio documents {sorted(op.get('responses', {}))}"]
    schema = documented.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return []
    if content_type != "application/json":
        return [f"{method} {template}: answered {content_type}, Twilio answers application/json"]
    return schema_problems(json.loads(body), schema, f"{method} {template} {status}")


def watch(emulator: Any) -> list[str]:
    """Check every REST request to `emulator` (a TwilioEmulator) and its answer; returns the list the
    violations are kept in, each naming the request and the test."""
    import os

    from tests.emulators._base import RECORD_KEY

    violations: list[str] = []

    def check(request: Any, response: Any) -> None:
        if not request.path.startswith("/2010-04-01/") or not described(request.path):
            return
        record = request.get(RECORD_KEY) or {}
        form = [
            (name, str(item))
            for name, value in (record.get("form") or {}).items()
            for item in (value if isinstance(value, list) else [value])
        ]
        problems = request_problems(request.method, request.path, request.query_string, form)
        body = getattr(response, "body", None)
        if isinstance(body, bytes):
            problems += answer_problems(request.method, request.path, response.status, response.content_type, body)
        if problems:
            CHECKED["violations"] += 1
            test = os.environ.get("PYTEST_CURRENT_TEST", "outside a test").rsplit(" (", 1)[0]
            violations.append(f"{request.method} {request.path} in {test}: " + "; ".join(problems))

    emulator.answer_hooks.append(check)
    return violations
