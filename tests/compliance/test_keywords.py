"""Keyword classification (exact) and natural-language opt-out detection (flag for agent)."""

from __future__ import annotations

import pytest

from bot.compliance.keywords import (
    HELP_WORDS,
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Keyword,
    classify,
    is_stop_all,
    looks_like_opt_out_request,
)

EXPECTED = (
    [(w, Keyword.OPT_OUT) for w in sorted(OPT_OUT_WORDS)]
    + [(w, Keyword.OPT_IN) for w in sorted(OPT_IN_WORDS)]
    + [(w, Keyword.HELP) for w in sorted(HELP_WORDS)]
)

VARIANTS = [
    "{w}",
    "{l}",
    "{t}",
    " {l} ",
    "{t}\n",
    "\n\n{w}\r\n",
    "\t{l}.",
    "{l}!",
    "{w}!!!",
    "{t}?",
    "\u00a0{l}\u00a0",
    "\u200b{w}",
    '"{w}"',
    "'{l}'",
    "({w})",
    "{w}\u2026",
    "\u201c{t}.\u201d",
    "...{l}",
]


def test_stopall_and_join_keywords():
    assert is_stop_all("STOPALL") and is_stop_all("stop all!") and is_stop_all("Stop-All")
    assert not is_stop_all("STOP") and not is_stop_all("stop all the texts")
    assert classify("join!", ("JOIN",)) is Keyword.JOIN
    assert classify("Join now", ("JOIN",)) is None
    assert classify("JOIN") is None  # not a join keyword of this line
    assert classify("yes") is Keyword.YES  # what it means depends on the number's state


def test_word_lists_are_as_specified():
    assert OPT_OUT_WORDS == {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
    assert OPT_IN_WORDS == {"START", "UNSTOP"}
    assert HELP_WORDS == {"HELP", "INFO"}
    assert {k.value for k in Keyword} == {"opt_out", "opt_in", "help", "yes", "join"}


@pytest.mark.parametrize("word, kind", EXPECTED)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_keyword_in_every_form(word, kind, variant):
    body = variant.format(w=word, l=word.lower(), t=word.title())
    assert classify(body) is kind


@pytest.mark.parametrize(
    "body, kind",
    [
        ("stop.", Keyword.OPT_OUT),
        (" Stop\n", Keyword.OPT_OUT),
        ("\uff33\uff34\uff2f\uff30", Keyword.OPT_OUT),  # fullwidth STOP
        ("opt out", Keyword.OPT_OUT),
        ("Opt-Out", Keyword.OPT_OUT),
        ("opt_out", Keyword.OPT_OUT),
        ("stop all", Keyword.OPT_OUT),
        ("Un-subscribe", Keyword.OPT_OUT),
        ("¡STOP!", Keyword.OPT_OUT),
        ("Yes!", Keyword.YES),
        ("help?", Keyword.HELP),
    ],
)
def test_keyword_forms(body, kind):
    assert classify(body) is kind


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   ",
        "\n",
        ".",
        "stop please",
        "please stop",
        "STOP STOP",
        "stops",
        "stopped",
        "stopp",
        "STOP 🛑",
        "🛑",
        "stop 2",
        "cancel my order",
        "the end",
        "ending",
        "quitting",
        "starting",
        "yes please",
        "yess",
        "yep",
        "un stop",
        "re-start",
        "helpful",
        "help me",
        "information",
        "unsubscribed",
        "revoked",
        "sto p",
        "st0p",
        "stop-please",
        "opt",
        "out",
        "opt in",
    ],
)
def test_near_misses_are_not_keywords(body):
    assert classify(body) is None


@pytest.mark.parametrize(
    "body",
    [
        "wrong number",
        "You have the wrong number",
        "I never signed up for this",
        "stop please",
        "please stop",
        "Please STOP",
        "STOP STOP STOP",
        "stop it",
        "stop it now!!",
        "Stop 🛑",
        "please stop texting me",
        "Stop texting me",
        "quit messaging me",
        "stop contacting me",
        "stop sending me texts",
        "Please don't send me any more messages",
        "unsubscribe me",
        "how do I unsubscribe?",
        "remove me from your list",
        "Remove my number",
        "please delete my number",
        "don't text me anymore",
        "Don\u2019t text me anymore",
        "do not contact this number",
        "never message me again",
        "take me off",
        "Take me off your list please",
        "get me off this list",
        "opt me out",
        "opt-out please",
        "I want to opt out",
        "no more texts",
        "No more messages please",
        "I don't want these texts",
        "I do not want to receive any more messages",
        "stop the texts",
        "cancel my subscription",
        "stop all messages",
        "leave me alone",
        "Who is this? STOP",
        "STOP. I never signed up for this",
        "cancel please",
        "quit now",
    ],
)
def test_natural_language_opt_out_requests(body):
    assert looks_like_opt_out_request(body)


@pytest.mark.parametrize(
    "body",
    # exact keywords are handled automatically, not flagged
    [w for w in sorted(OPT_OUT_WORDS | OPT_IN_WORDS | HELP_WORDS)]
    + ["stop.", " Stop\n", "opt out", "STOP!!", "unsubscribe", "Cancel."]
    + [
        "",
        "can you stop by tomorrow?",
        "I'll stop by the office at 3",
        "Stop at the gas station on the way",
        "Don't stop!",
        "please don't STOP",
        "Meet me at the bus STOP",
        "I stopped by earlier",
        "Cancel my appointment",
        "cancel it",
        "Can I cancel my order?",
        "the end",
        "End of the day works",
        "See you at the end of the street",
        "I quit my job",
        "I want to quit smoking",
        "Take me to the airport",
        "Remove the item from my order",
        "Can you send me the invoice?",
        "Stop sending me the invoice twice",
        "no more questions, thanks",
        "Thanks! See you at 5",
        "Yes, 5pm works",
        "What are your hours?",
        "not interested",
    ],
)
def test_not_flagged(body):
    assert not looks_like_opt_out_request(body)
