"""Records rendered as Slack's JSON: message, file and view objects, as the Web API and events carry them."""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from bot.local.slack.state import ApiError, Identity, WorkspaceState, new_id

# Record keys that are emulator bookkeeping, or that are rendered in Slack's own form below.
_INTERNAL_KEYS = {"channel", "reactions", "files", "edited", "delivery", "event_id"}
_THREAD_KEYS = ("reply_count", "reply_users", "reply_users_count", "latest_reply")


def bot_profile(identity: Identity) -> dict:
    return {
        "id": identity.bot_id,
        "app_id": identity.app_id,
        "name": identity.bot_name,
        "deleted": False,
        "team_id": identity.team_id,
    }


def message(state: WorkspaceState, record: dict, *, metadata: bool = True, thread: bool = True) -> dict:
    """A message as conversations.history returns it; `thread` adds a root's reply bookkeeping."""
    out = {k: copy.deepcopy(v) for k, v in record.items() if k not in _INTERNAL_KEYS and v is not None}
    if not metadata:
        out.pop("metadata", None)
    if record.get("bot_id"):
        out["bot_profile"] = bot_profile(state.identity)
    if record["thread_ts"]:
        root = state.message(record["channel"], record["thread_ts"])
        if root is not None and root.get("user"):
            out["parent_user_id"] = root["user"]
    replies = state.replies(record["channel"], record["ts"]) if thread and not record["thread_ts"] else []
    if replies:
        users = list(dict.fromkeys(r["user"] for r in replies if r.get("user")))
        out.update(
            thread_ts=record["ts"],
            reply_count=len(replies),
            reply_users=users,
            reply_users_count=len(users),
            latest_reply=replies[-1]["ts"],
        )
    if record["reactions"]:
        out["reactions"] = [{"name": n, "users": list(u), "count": len(u)} for n, u in record["reactions"].items()]
    if record["files"]:
        out["files"] = [file(state, f) for f in record["files"]]
        out["upload"] = True
        out.setdefault("display_as_bot", False)
    if record["edited"]:
        out["edited"] = dict(record["edited"])
    return out


def message_event(state: WorkspaceState, record: dict) -> dict:
    """The `message` event Slack delivers for a message a person posted."""
    event = {k: v for k, v in message(state, record, thread=False).items() if k not in _THREAD_KEYS}
    channel = record["channel"]
    channel_type = {"D": "im", "G": "group"}.get(channel[0], "channel")
    event.update(channel=channel, event_ts=record["ts"], channel_type=channel_type)
    if record["files"]:
        event["upload"] = False
    return event


def file(state: WorkspaceState, record: dict) -> dict:
    """A file object (files.info, a message's and an event's `files`)."""
    name = record["name"]
    shares = {}
    if record["channel"]:
        shares = {"public": {record["channel"]: [{"ts": record.get("share_ts") or record["thread_ts"] or ""}]}}
    return {
        "id": record["id"],
        "created": record["created"],
        "timestamp": record["created"],
        "name": name,
        "title": record["title"],
        "mimetype": record["mimetype"],
        "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
        "pretty_type": record["mimetype"],
        "user": record["user"],
        "user_team": state.identity.team_id,
        "editable": False,
        "mode": "hosted",
        "is_external": False,
        "is_public": True,
        "size": len(record["bytes"]),
        "url_private": record["url_private"],
        "url_private_download": record["url_private_download"],
        "permalink": f"https://{state.identity.team_domain}.slack.com/files/{record['user']}/{record['id']}/{name}",
        "shares": shares,
        "channels": [record["channel"]] if record["channel"] else [],
    }


def channel(record: dict) -> dict:
    """A conversation object (conversations.info)."""
    return {
        "is_general": False,
        "is_ext_shared": False,
        "is_org_shared": False,
        "is_shared": False,
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
        **copy.deepcopy(record),
    }


def ephemeral(identity: Identity, record: dict) -> dict:
    """An ephemeral message as the person it is for sees it."""
    out = {
        "type": "message",
        "subtype": "ephemeral",
        "user": identity.bot_user_id,
        "bot_id": identity.bot_id,
        "ts": record["message_ts"],
        "to": record["user"],
        "channel": record["channel"],
        "text": record.get("text", ""),
    }
    for key in ("blocks", "attachments", "thread_ts"):
        if record.get(key):
            out[key] = copy.deepcopy(record[key])
    return out


def blocks(raw: Any, error: str = "invalid_blocks") -> list[dict]:
    """Block Kit blocks as Slack keeps them: a list of objects with a type, each given a block_id."""
    if not isinstance(raw, list) or not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in raw):
        raise ApiError(error)
    out = copy.deepcopy(raw)
    for block in out:
        block.setdefault("block_id", secrets.token_urlsafe(4))
    return out


def view(identity: Identity, spec: dict, *, view_id: str | None = None, previous: dict | None = None) -> dict:
    """The view object Slack keeps for a views.open/push/update `spec` (an update keeps its place in a stack)."""
    view_id = view_id or new_id("V")
    return {
        "id": view_id,
        "team_id": identity.team_id,
        "type": spec["type"],
        "title": spec.get("title"),
        "submit": spec.get("submit"),
        "close": spec.get("close"),
        "blocks": blocks(spec.get("blocks") or [], "invalid_arguments"),
        "private_metadata": spec.get("private_metadata", ""),
        "callback_id": spec.get("callback_id", ""),
        "external_id": spec.get("external_id", ""),
        "state": {"values": {}},
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "clear_on_close": bool(spec.get("clear_on_close")),
        "notify_on_close": bool(spec.get("notify_on_close")),
        "root_view_id": previous["root_view_id"] if previous else view_id,
        "previous_view_id": previous["previous_view_id"] if previous else None,
        "app_id": identity.app_id,
        "app_installed_team_id": identity.team_id,
        "bot_id": identity.bot_id,
    }
