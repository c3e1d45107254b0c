"""Folding a backlog of customer texts into one Slack post: only as many as one message holds, nothing dropped."""

from __future__ import annotations

from bot.conversations.views import inbound_post
from bot.slack.outbox import folded_blocks
from tests.support import block_kit


def _texts(blocks: list[dict]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")


def test_a_burst_of_long_texts_is_folded_into_posts_slack_takes_without_losing_any():
    payloads = [
        inbound_post(f"text {i:03d} " + "x" * 991, 0, "", flagged=i % 7 == 0, phone=f"+1415555{i:04d}")
        for i in range(200)
    ]
    posts, waiting = [], payloads
    while waiting:
        blocks, used = folded_blocks(waiting)
        assert 1 <= used <= len(waiting)
        assert block_kit.message_problems(blocks) == [], blocks
        posts.append(blocks)
        waiting = waiting[used:]
    assert len(posts) > 1, "200 texts of 1,000 characters cannot fit in one message"
    shown = "\n".join(_texts(blocks) for blocks in posts)
    for i in range(200):
        assert f"text {i:03d} " + "x" * 991 in shown
    assert [int(line[5:8]) for line in shown.splitlines()] == list(range(200))
    buttons = [
        element["value"]
        for blocks in posts
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "conversation_opt_out"
    ]
    assert buttons == [f"+1415555{i:04d}" for i in range(0, 200, 7)]
    assert all(blocks[-1].get("block_id") == "customer" for blocks in posts)


def test_a_text_longer_than_a_section_is_split_not_cut():
    text = " ".join(f"word{i}" for i in range(1200))  # about 8,000 characters
    blocks, used = folded_blocks([inbound_post(text, 0, "", False, "+14155550100")])
    assert used == 1 and block_kit.message_problems(blocks) == []
    assert _texts(blocks).replace("\n", " ") == text
