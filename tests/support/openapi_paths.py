"""What the two carriers' OpenAPI checks (twilio_openapi, telnyx_openapi) share: following `$ref`s to their
schema, and finding the path template of a concrete path."""

from __future__ import annotations

import re


def resolve(spec: dict, schema: dict) -> dict:
    """`schema`, its `$ref`s followed (within `spec`'s components)."""
    while "$ref" in schema:
        _, section, name = schema["$ref"].lstrip("#/").split("/")
        schema = spec["components"][section][name]
    return schema


class PathTemplates:
    """The path templates of a description (`/Accounts/{AccountSid}/Messages.json`), matched against paths."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self._patterns = [
            (re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"), template)
            for template in spec["paths"]
        ]

    def operation(self, method: str, path: str) -> tuple[str, dict] | None:
        """(path template, operation) for a request, or None when the description has no such path (an empty
        operation when it has the path but not the method)."""
        for pattern, template in self._patterns:
            if pattern.match(path):
                return template, self.spec["paths"][template].get(method.lower(), {})
        return None
