"""The OpenAPI 3.1 description of every `/api/v1` route, served at `GET /api/v1/openapi.json`."""

from __future__ import annotations

from typing import Any

from bot.api.rules import CATEGORIES, MAX_IDEMPOTENCY_KEY, MAX_TEXT

_STATUSES = ["queued", "scheduled", "sending", "sent", "delivered", "undelivered", "failed", "canceled"]
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    text = {
        400: "The body is not JSON, or the Idempotency-Key header is malformed",
        401: "No key, or an unknown or revoked key",
        403: "The key lacks this route's scope",
        404: "Not found",
        409: "The message can no longer be canceled",
        415: "The body is not application/json",
        422: "A field is wrong (the message names it); nothing was stored",
        429: "Too many codes for this number in the last hour",
    }
    return {str(status): _json(_ref("Error"), text[status]) for status in statuses}


def _legacy_errors(*statuses: int) -> dict:
    return {str(status): _json(_ref("LegacyError"), "Refused; `error` says why") for status in statuses}


_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "The same key with the same body answers the first answer again; with another body, 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
}
_MESSAGE_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^msg_[0-9a-f]{24}$"},
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "examples": ["opted_out", "missing_variable", "invalid_number"]},
                    "message": {"type": "string", "description": "Starts with the name of the field at fault"},
                },
            }
        },
    },
    "LegacyError": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "MessageRequest": {
        "type": "object",
        "required": ["to"],
        "additionalProperties": False,
        "properties": {
            "to": {"type": "string", "description": "The customer's number (E.164 preferred)"},
            "line": {"type": "string", "description": "A configured line's number or Messaging Service SID"},
            "text": {"type": "string", "maxLength": MAX_TEXT},
            "template": {"type": "string", "description": "A name under [templates] in the configuration"},
            "variables": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
            "category": {"enum": list(CATEGORIES), "default": "transactional"},
            "send_at": {**_TIME, "description": "ISO 8601 with a UTC offset, at most 35 days ahead"},
            "status_callback": {"type": "string", "format": "uri"},
            "metadata": {"type": "object"},
        },
        "oneOf": [{"required": ["text"]}, {"required": ["template"]}],
    },
    "MessageAccepted": {
        "type": "object",
        "required": ["id", "status", "segments", "encoding"],
        "properties": {
            "id": {"type": "string"},
            "status": {"enum": ["queued", "scheduled"]},
            "segments": {"type": "integer", "minimum": 1},
            "encoding": {"enum": ["GSM-7", "UCS-2"]},
        },
    },
    "Message": {
        "type": "object",
        "required": [
            "id",
            "to",
            "line",
            "status",
            "error",
            "segments",
            "created_at",
            "sent_at",
            "delivered_at",
            "metadata",
        ],
        "properties": {
            "id": {"type": "string"},
            "to": {"type": "string"},
            "line": {"type": "string"},
            "status": {"enum": _STATUSES},
            "error": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    },
                ]
            },
            "segments": {"type": "integer"},
            "created_at": _TIME,
            "send_at": _NULLABLE_TIME,
            "sent_at": _NULLABLE_TIME,
            "delivered_at": _NULLABLE_TIME,
            "metadata": {"type": "object"},
        },
    },
    "VerificationRequest": {
        "type": "object",
        "required": ["to"],
        "additionalProperties": False,
        "properties": {"to": {"type": "string"}, "line": {"type": "string"}},
    },
    "VerificationStarted": {
        "type": "object",
        "required": ["id", "status", "expires_at"],
        "properties": {"id": {"type": "string"}, "status": {"const": "pending"}, "expires_at": _TIME},
    },
    "CheckRequest": {
        "type": "object",
        "required": ["to", "code"],
        "additionalProperties": False,
        "properties": {"to": {"type": "string"}, "code": {"type": "string", "pattern": "^[0-9]{6}$"}},
    },
    "CheckResult": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"enum": ["approved", "pending", "expired", "max_attempts_reached"]}},
    },
    "NotifyRequest": {
        "type": "object",
        "required": ["to", "text"],
        "additionalProperties": False,
        "properties": {
            "to": {"type": "string", "description": "group:NAME, a Slack user ID (U...) or a phone number"},
            "text": {"type": "string", "maxLength": MAX_TEXT},
        },
    },
    "NotifyAccepted": {
        "type": "object",
        "required": ["id", "recipients"],
        "properties": {"id": {"type": "integer"}, "recipients": {"type": "integer"}},
    },
    "Notification": {
        "type": "object",
        "required": ["id", "to", "status", "recipients"],
        "properties": {
            "id": {"type": "integer"},
            "to": {"type": "string"},
            "text": {"type": "string"},
            "status": {"enum": ["open", "acked", "resolved"]},
            "recipients": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["state"],
                    "properties": {
                        "user": {"type": ["string", "null"]},
                        "phone": {"type": ["string", "null"]},
                        "state": {"type": "string"},
                        "reason": {"type": ["string", "null"]},
                        "updated_at": _NULLABLE_TIME,
                    },
                },
            },
        },
    },
    "AlertmanagerResult": {
        "type": "object",
        "required": ["id", "recipients", "duplicate"],
        "properties": {
            "id": {"type": "integer"},
            "recipients": {"type": "integer"},
            "duplicate": {"type": "boolean"},
        },
    },
}


def _paths() -> dict:
    return {
        "/api/v1/messages": {
            "post": {
                "operationId": "sendMessage",
                "summary": "Text one customer (a text, or a template with variables); optionally scheduled",
                "security": [{"bearer": ["messages"]}],
                "parameters": [_IDEMPOTENCY],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("MessageRequest")}}},
                "responses": {
                    "202": _json(_ref("MessageAccepted"), "Stored; it will be sent (or is scheduled)"),
                    **_errors(400, 401, 403, 415, 422),
                },
                "callbacks": {
                    "statusChanged": {
                        "{$request.body#/status_callback}": {
                            "post": {
                                "summary": "The message's state, on every change, signed with X-SMS-Bridge-Signature",
                                "parameters": [
                                    {
                                        "name": "X-SMS-Bridge-Signature",
                                        "in": "header",
                                        "required": True,
                                        "description": "sha256=<hex HMAC-SHA256 of the raw body with the key's "
                                        "callback secret>",
                                        "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
                                    }
                                ],
                                "requestBody": {"content": {"application/json": {"schema": _ref("Message")}}},
                                "responses": {"2XX": {"description": "Received; anything else is retried"}},
                            }
                        }
                    }
                },
            }
        },
        "/api/v1/messages/{id}": {
            "parameters": [_MESSAGE_ID],
            "get": {
                "operationId": "getMessage",
                "summary": "A message's state",
                "security": [{"bearer": ["messages"]}],
                "responses": {"200": _json(_ref("Message"), "The message"), **_errors(401, 403, 404)},
            },
            "delete": {
                "operationId": "cancelMessage",
                "summary": "Cancel a scheduled or queued message",
                "security": [{"bearer": ["messages"]}],
                "responses": {"200": _json(_ref("Message"), "Canceled"), **_errors(401, 403, 404, 409)},
            },
        },
        "/api/v1/verifications": {
            "post": {
                "operationId": "startVerification",
                "summary": "Text a 6-digit one-time code, valid 10 minutes",
                "security": [{"bearer": ["verify"]}],
                "parameters": [_IDEMPOTENCY],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("VerificationRequest")}},
                },
                "responses": {
                    "202": _json(_ref("VerificationStarted"), "The code is being texted"),
                    **_errors(400, 401, 403, 415, 422, 429),
                },
            }
        },
        "/api/v1/verifications/check": {
            "post": {
                "operationId": "checkVerification",
                "summary": "Check a code; 5 wrong codes end the verification",
                "security": [{"bearer": ["verify"]}],
                "parameters": [_IDEMPOTENCY],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("CheckRequest")}}},
                "responses": {
                    "200": _json(_ref("CheckResult"), "What the check found"),
                    **_errors(400, 401, 403, 404, 415, 422),
                },
            }
        },
        "/api/v1/notify": {
            "post": {
                "operationId": "page",
                "summary": 'Page team members by SMS (errors here are {"error": "..."})',
                "security": [{"bearer": ["notify"]}],
                "parameters": [_IDEMPOTENCY],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NotifyRequest")}}},
                "responses": {
                    "202": _json(_ref("NotifyAccepted"), "The page is stored and being sent"),
                    **_legacy_errors(400, 401, 403, 415, 422),
                },
            }
        },
        "/api/v1/notifications/{id}": {
            "get": {
                "operationId": "getNotification",
                "summary": "A page's per-recipient delivery state, acknowledgement and escalation",
                "security": [{"bearer": ["notify"]}],
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": _json(_ref("Notification"), "The page"), **_legacy_errors(401, 403, 404)},
            }
        },
        "/api/v1/alertmanager": {
            "post": {
                "operationId": "alertmanagerWebhook",
                "summary": "Prometheus Alertmanager webhook receiver (payload version 4)",
                "security": [{"bearer": ["notify"]}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "200": _json(_ref("AlertmanagerResult"), "Paged (or a repeat of a group already paged)"),
                    **_legacy_errors(400, 401, 403, 415, 422),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This description",
                "security": [{"bearer": []}],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_errors(401),
                },
            }
        },
    }


def document(public_url: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sms-bridge API",
            "version": "1",
            "description": "Texts to customers, one-time codes and team pages. Every route takes "
            "`Authorization: Bearer <key>` (keys: `sms-bridge api-key create NAME --scopes ...`).",
        },
        "servers": [{"url": public_url.rstrip("/")}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key; scopes: messages, verify, notify",
                }
            },
        },
    }
