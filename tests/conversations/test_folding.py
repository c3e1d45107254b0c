"""Folding a backlog of customer texts into one Slack post: only as many as one message holds, nothing dropped."""

from __future__ import annotations

from bot.conversations.views import inbound_post
from bot.slack.format import section_pieces
from bot.slack.outbox import folded_blocks
from tests.support import block_kit
from tests.support.bridge import CHANNEL, LINE

CUSTOMER = "+14155550124"


def _texts(blocks: list[dict]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")


def test_a_burst_of_long_texts_is_folded_into_posts_slack_takes_without_losing_any():
    payloads = [
        inbound_post(f"text {i:03d} " + "x" * 991, 0, "", request_id=i if i % 7 == 0 else None) for i in range(200)
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
        if element["action_id"] == "stop_request_confirm"
    ]
    assert buttons == [str(i) for i in range(0, 200, 7)]
    assert all(blocks[-1].get("block_id") == "customer" for blocks in posts)


def test_a_text_longer_than_a_section_is_split_not_cut():
    text = " ".join(f"word{i}" for i in range(1200))  # about 8,000 characters
    blocks, used = folded_blocks([inbound_post(text, 0, "", None)])
    assert used == 1 and block_kit.message_problems(blocks) == []
    assert _texts(blocks).replace("\n", " ") == text


async def test_a_long_text_of_characters_slack_escapes_still_reaches_slack(bridge, slack, twilio):
    """1,600 characters (Twilio's longest text) of `&` are 8,000 once escaped for mrkdwn: more than one section."""
    body = "&" * 1600
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body=body)
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    # It travels in the root card: the sections between the card's title and the "Customer" line.
    blocks = slack.roots(CHANNEL)[0]["blocks"]
    end = next(i for i, block in enumerate(blocks) if block.get("block_id") == "customer")
    sections = [b["text"]["text"] for b in blocks[1:end] if b["type"] == "section"]
    assert "".join(sections) == "&amp;" * 1600


def test_a_long_text_is_never_cut_inside_an_escaped_character():
    text = "x" * 2898 + "&amp;" + "y" * 10
    pieces = section_pieces(text)
    assert pieces == ["x" * 2898, "&amp;" + "y" * 10]
