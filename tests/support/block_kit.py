"""Block Kit as Slack defines it, applied to what the bot sends: every message's `blocks` and every view goes
through slack_sdk's own models (``slack_sdk.models.blocks.Block.parse``, ``slack_sdk.models.views.View``),
which carry Slack's published limits as validators (3,000 characters per section text, 75 per button text, 255
per action_id, 24 per modal title, 100 blocks per modal, ...), plus the message limit of 50 blocks
(https://api.slack.com/reference/block-kit/blocks: "You can include up to 50 blocks in each message, and 100
blocks in modals or Home tabs").

A payload also fails when parsing drops one of its keys: slack_sdk does not know it, so it is not Block Kit.

`problems()` says what is wrong with one payload; `CHECKED` counts what the test session checked.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50
CHECKED: Counter[str] = Counter()  # "payloads", "violations" over the test session


def _lost_keys(original: Any, parsed: Any, path: str) -> list[str]:
    """Paths of `original` that `parsed` (slack_sdk's round trip) no longer has."""
    if isinstance(original, dict) and isinstance(parsed, dict):
        lost = []
        for key, value in original.items():
            if key not in parsed:
                lost.append(f"{path}/{key}")
            else:
                lost += _lost_keys(value, parsed[key], f"{path}/{key}")
        return lost
    if isinstance(original, list) and isinstance(parsed, list):
        if len(original) != len(parsed):
            return [f"{path} ({len(original)} items, {len(parsed)} understood)"]
        return [
            lost
            for i, (a, b) in enumerate(zip(original, parsed, strict=True))
            for lost in _lost_keys(a, b, f"{path}/{i}")
        ]
    return []


def _blocks(blocks: Any, path: str) -> list[str]:
    if not isinstance(blocks, list):
        return [f"{path}: not a list of blocks"]
    problems = []
    for i, raw in enumerate(blocks):
        where = f"{path}/{i}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: not an object")
            continue
        block = Block.parse(raw)
        if block is None or type(block) is Block:
            problems.append(f"{where}: unknown block type {raw.get('type')!r}")
            continue
        try:
            parsed = block.to_dict()
        except (SlackObjectFormationError, AttributeError, TypeError, KeyError) as exc:
            problems.append(f"{where} ({raw.get('type')}): {exc}")
            continue
        problems += [f"{lost}: not a Block Kit field" for lost in _lost_keys(raw, parsed, where)]
    return problems


def message_problems(blocks: Any) -> list[str]:
    """What Slack would refuse in a message's `blocks` (chat.postMessage/update/postEphemeral, response URLs)."""
    CHECKED["payloads"] += 1
    problems = _blocks(blocks, "/blocks")
    if isinstance(blocks, list) and len(blocks) > MESSAGE_BLOCKS:
        problems.append(f"/blocks: {len(blocks)} blocks, a message holds at most {MESSAGE_BLOCKS}")
    CHECKED["violations"] += bool(problems)
    return problems


def view_problems(view: Any) -> list[str]:
    """What Slack would refuse in a view (views.open/update/push, a submission's response_action)."""
    CHECKED["payloads"] += 1
    if not isinstance(view, dict):
        problems = ["/view: not an object"]
    else:
        problems = _blocks(view.get("blocks"), "/view/blocks")
        try:
            parsed = View(**view).to_dict()
        except (SlackObjectFormationError, AttributeError, TypeError, KeyError) as exc:
            problems.append(f"/view: {exc}")
        else:
            top = {k: v for k, v in view.items() if k != "blocks"}
            problems += [f"{lost}: not a view field" for lost in _lost_keys(top, parsed, "/view")]
    CHECKED["violations"] += bool(problems)
    return problems
