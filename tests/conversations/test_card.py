"""The root card: which first texts it carries, and how it shows them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.compliance.consent import ConsentState
from bot.conversations.card import CardFacts, FirstText, card_blocks, card_text, carries_first_text
from bot.slack.outbox import MAX_POST_BLOCKS

UNKNOWN = ConsentState("unknown")


def facts(first_text: FirstText | None, **extra) -> CardFacts:
    return CardFacts(
        phone="+14155550123",
        name=extra.pop("name", ""),
        line_label="Support",
        transactional=UNKNOWN,
        marketing=UNKNOWN,
        last_activity=datetime(2026, 12, 3, tzinfo=UTC),
        last_agent=None,
        conversation_id=7,
        first_text=first_text,
        **extra,
    )


def test_an_ordinary_first_text_travels_in_the_card():
    assert carries_first_text("Is my order ready?", 0, "", None)
    assert carries_first_text("", 2, "", None)  # a picture alone


def test_a_keyword_note_or_a_stop_request_keeps_its_own_post():
    assert not carries_first_text("HELP", 0, ":information_source: Help keyword: answered.", None)
    assert not carries_first_text("please stop", 0, "", 41)


def test_a_text_too_long_to_fit_beside_the_card_keeps_its_own_post():
    assert not carries_first_text("x" * 2900 * MAX_POST_BLOCKS, 0, "", None)


def test_the_first_text_sits_between_the_contact_line_and_the_buttons():
    blocks = card_blocks(facts(FirstText("Is my order ready?", 1), tags=("vip",)))
    kinds = [(block["type"], block.get("block_id")) for block in blocks]
    text_at = next(i for i, block in enumerate(blocks) if "Is my order ready?" in json.dumps(block))
    assert kinds[text_at - 1] == ("context", None) and "vip" in json.dumps(blocks[text_at - 1])
    assert kinds[text_at + 1] == ("context", "customer") and "1 attachment below" in json.dumps(blocks[text_at + 1])
    assert kinds[text_at + 2] == ("actions", "conversation_card")
    assert len(blocks) <= MAX_POST_BLOCKS


def test_a_card_without_a_first_text_shows_none():
    blocks = card_blocks(facts(None))
    assert not any(block.get("block_id") == "customer" for block in blocks)
    assert card_text(facts(None)) == "SMS conversation with +1 415-555-0123 on Support"


def test_the_notification_text_carries_the_first_text_escaped_and_cut():
    text = card_text(facts(FirstText("<!channel> " + "a" * 400, 0), name="<@U0ADMIN>"))
    assert "<!channel>" not in text and "<@U0ADMIN>" not in text
    assert "&lt;!channel&gt; " in text and "(&lt;@U0ADMIN&gt;)" in text
    assert text.endswith("a" * (300 - len("<!channel> ")))
