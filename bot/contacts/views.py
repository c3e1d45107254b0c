"""The *Edit contact* modal (Block Kit)."""

from __future__ import annotations

import json

from bot.contacts.csv_io import MAX_NAME
from bot.contacts.service import MAX_NOTES, ContactView
from bot.slack.format import pretty_phone
from bot.validation import InvalidInput, load_json

EDIT_CALLBACK = "contact_edit"
# Block ids are the field names the service's ContactInputError gives, so its errors land under their input.
FIELDS = ("name", "tags", "notes")


def _input(block_id: str, label: str, initial: str, *, hint: str, multiline: bool = False, optional: bool = True):
    element: dict = {"type": "plain_text_input", "action_id": "value", "multiline": multiline}
    if initial:
        element["initial_value"] = initial
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "hint": {"type": "plain_text", "text": hint},
        "element": element,
    }


def edit_modal(contact: ContactView, channel: str) -> dict:
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": json.dumps({"phone": contact.phone, "channel": channel}),
        "title": {"type": "plain_text", "text": "Edit contact"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{pretty_phone(contact.phone)}*"}},
            _input(
                "name",
                "Name",
                contact.name,
                hint=f"First and last name, at most {MAX_NAME} characters.",
                optional=False,
            ),
            _input(
                "tags",
                "Tags",
                ", ".join(contact.tags),
                hint="Separated by commas: add one, or delete one to remove it.",
            ),
            _input(
                "notes",
                "Notes",
                contact.notes,
                hint=f"Seen by the team only; at most {MAX_NOTES} characters.",
                multiline=True,
            ),
        ],
    }


def submitted(view: dict) -> tuple[str, dict[str, str]]:
    """(phone, {field: text}) from a submitted edit modal."""
    values = (view.get("state") or {}).get("values") or {}
    fields = {}
    for name in FIELDS:
        entry = (values.get(name) or {}).get("value") or {}
        fields[name] = entry.get("value") or ""
    try:
        meta = load_json(view.get("private_metadata") or "{}", "private_metadata", max_bytes=3000)
    except InvalidInput:
        meta = {}
    phone = meta.get("phone") if isinstance(meta, dict) else None
    return (phone if isinstance(phone, str) else ""), fields
