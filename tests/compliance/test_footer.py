"""Opt-out footer: recognise existing instructions, append otherwise."""

from __future__ import annotations

import pytest

from bot.compliance.footer import FOOTER, tells_how_to_stop, with_footer


@pytest.mark.parametrize(
    "text",
    [
        "Reply STOP to unsubscribe",
        "Txt STOP to end",
        "opt-out: reply stop",
        "Opt out: reply STOP",
        "Sale ends Friday! Msg&data rates may apply. STOP to opt out",
        "Reply HELP for help, STOP to cancel",
        "Text \u201cSTOP\u201d to end",
        "Reply 'stop' to stop receiving these",
        "Reply STOP",
        "reply stop.",
        "Stop2End",
        "Reply STOP2END",
        "To opt out, reply STOP",
        "Reply with STOP at any time to opt out",
        "Text END or QUIT to stop",
        "Send UNSUBSCRIBE to 12345",
        "unsubscribe to be removed",
        "END to quit",
        "New menu!\nReply STOP to opt out",
        FOOTER,
    ],
)
def test_recognised_instructions(text):
    assert tells_how_to_stop(text)
    assert with_footer(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Hello! 20% off today",
        "We will stop sending reminders soon",
        "Text end of season sale starts now",
        "Reply HELP for help",
        "Reply Y to confirm your appointment",
        "Unsubscribe at example.com/u",
        "Reply to stop by the store",
        "Please text us to end your subscription",
        "We had to stop to end the meeting early",
        "Don't stop believing",
        "Reply STOPPED",
        "Opt out of paper billing in the app",
    ],
)
def test_not_instructions(text):
    assert not tells_how_to_stop(text)


def test_with_footer_appends_on_a_new_line():
    assert with_footer("20% off today") == "20% off today\nReply STOP to opt out"
    assert FOOTER == "Reply STOP to opt out"


def test_with_footer_custom_footer_and_trailing_whitespace():
    assert with_footer("Hi there \n\n", footer="Txt STOP to end") == "Hi there\nTxt STOP to end"
    assert with_footer("") == FOOTER
    assert with_footer("Reply STOP to end") == "Reply STOP to end"


def test_with_footer_is_idempotent():
    once = with_footer("Big sale")
    assert with_footer(once) == once
