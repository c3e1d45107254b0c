"""Segment counting: GSM 03.38 tables, Twilio's limits, greedy packing, smart encoding."""

from __future__ import annotations

import itertools
import math

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.compliance.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SMART_ENCODING_MAP,
    SegmentInfo,
    analyze,
    is_gsm7,
    smart_encode,
)

GSM_CHARS = sorted(GSM7_BASIC | GSM7_EXTENSION)
EXT_CHARS = sorted(GSM7_EXTENSION)
EMOJI = "\U0001f600"  # 😀, a surrogate pair in UTF-16


# --- the GSM 03.38 tables -----------------------------------------------------------------


def test_basic_table_is_the_3gpp_default_alphabet():
    expected = (
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    )
    assert len(expected) == 127
    assert GSM7_BASIC == frozenset(expected)


def test_extension_table():
    assert GSM7_EXTENSION == frozenset("\f^{}\\[~]|€")


@pytest.mark.parametrize("ch", list("éèùìòàäöñüÇÉÄÖÑÜÅåÆæØøß¡¿§¤£¥ΔΦΓΛΩΠΨΣΘΞ@$_\n\r"))
def test_in_basic_table(ch):
    info = analyze(ch)
    assert (info.encoding, info.units) == ("GSM-7", 1)


@pytest.mark.parametrize("ch", list("^{}\\[~]|€\f"))
def test_extension_chars_cost_two_septets(ch):
    info = analyze(ch)
    assert (info.encoding, info.units, info.characters) == ("GSM-7", 2, 1)


@pytest.mark.parametrize(
    "ch",
    list("çáíóúâêîôûëïÿõãÈÀÌÒÙÁÍÓÚÊœ`\t")
    + ["\u00a0", "\u2019", "\u201c", "\u2014", "\u2026", "\u03a9\u0301", "\u2126", "α", "中", EMOJI, "\x1b"],
)
def test_not_gsm7(ch):
    assert not is_gsm7(ch)
    assert analyze(ch).encoding == "UCS-2"


# --- hand-checked boundaries --------------------------------------------------------------


def _seg(text: str) -> tuple[str, int, int]:
    info = analyze(text)
    return info.encoding, info.units, info.segments


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", ("GSM-7", 0, 0)),
        ("a", ("GSM-7", 1, 1)),
        ("a" * 160, ("GSM-7", 160, 1)),
        ("a" * 161, ("GSM-7", 161, 2)),
        ("a" * 306, ("GSM-7", 306, 2)),
        ("a" * 307, ("GSM-7", 307, 3)),
        ("a" * 459, ("GSM-7", 459, 3)),
        ("a" * 460, ("GSM-7", 460, 4)),
        ("a" * 159 + "€", ("GSM-7", 161, 2)),  # escape pushes a 160-char text over
        ("a" * 158 + "€", ("GSM-7", 160, 1)),
        ("€" * 80, ("GSM-7", 160, 1)),
        # escape sequence at the 153 boundary: 152 + 2 does not fit, goes whole to part 2
        ("a" * 152 + "€" + "a" * 152, ("GSM-7", 306, 3)),
        ("a" * 151 + "€" + "a" * 153, ("GSM-7", 306, 2)),
        ("a" * 152 + "€" + "a" * 151, ("GSM-7", 305, 2)),
        # CR LF is one grapheme: it does not straddle two parts
        ("a" * 152 + "\r\n" + "a" * 152, ("GSM-7", 306, 3)),
        ("a" * 151 + "\r\n" + "a" * 153, ("GSM-7", 306, 2)),
        ("a" * 152 + "\r\r\n" + "a" * 151, ("GSM-7", 306, 2)),
        ("\u00e7" * 70, ("UCS-2", 70, 1)),
        ("\u00e7" * 71, ("UCS-2", 71, 2)),
        ("\u00e7" * 134, ("UCS-2", 134, 2)),
        ("\u00e7" * 135, ("UCS-2", 135, 3)),
        (EMOJI * 35, ("UCS-2", 70, 1)),
        (EMOJI * 36, ("UCS-2", 72, 2)),
        # emoji at the 67 boundary: 66 units + a pair does not fit, goes whole to part 2
        ("\u00e7" * 66 + EMOJI + "\u00e7" * 66, ("UCS-2", 134, 3)),
        ("\u00e7" * 65 + EMOJI + "\u00e7" * 67, ("UCS-2", 134, 2)),
        ("\u00e7" * 66 + EMOJI + "\u00e7" * 65, ("UCS-2", 133, 2)),
        ("a" * 159 + "ç", ("UCS-2", 160, 3)),  # one non-GSM char switches all 160 to UCS-2
        # graphemes at the 67 boundary (issue 16, finding 8): a flag (two regional indicators, 4 units) and a
        # ZWJ family (8 units) go whole to the next part, as in Twilio's segment calculator
        ("a" * 65 + "\U0001f1fa\U0001f1f8" + "b" * 65, ("UCS-2", 134, 3)),
        ("a" * 63 + "\U0001f1fa\U0001f1f8" + "b" * 67, ("UCS-2", 134, 2)),
        ("a" * 62 + "\U0001f469\u200d\U0001f469\u200d\U0001f467" + "b" * 64, ("UCS-2", 134, 3)),
        ("e\u0301" * 34 + "b" * 66, ("UCS-2", 134, 3)),  # a letter and its combining accent stay together
    ],
)
def test_boundaries(text, expected):
    assert _seg(text) == expected


def test_characters_count_code_points_and_units_count_utf16():
    info = analyze("hi " + EMOJI)
    assert (info.characters, info.units, info.encoding) == (4, 5, "UCS-2")


def test_a_lone_surrogate_counts_as_one_unit():
    """JSON (a Slack event, an API request) may carry an unpaired surrogate escape: it is measured, not refused."""
    assert _seg("\ud800 lone") == ("UCS-2", 6, 1)
    assert _seg("\udc00" * 71) == ("UCS-2", 71, 2)


def test_too_long_is_over_1600_characters():
    assert not analyze("a" * 1600).too_long
    assert analyze("a" * 1601).too_long
    assert not analyze(EMOJI * 1600).too_long  # characters, not UTF-16 units
    assert analyze(EMOJI * 1601).too_long


def test_as_dict_is_the_cli_json_shape():
    info = analyze("Hello €")
    assert info.as_dict() == {
        "encoding": "GSM-7",
        "segments": 1,
        "characters": 7,
        "units": 8,
        "too_long": False,
    }
    assert isinstance(info, SegmentInfo) and info.text == "Hello €"


# --- smart encoding -----------------------------------------------------------------------


def test_smart_encoding_replaces_typography():
    text = "\u201cHi\u201d \u2014 it\u2019s\u00a0here\u2026 \u2022 ok\u200b"
    assert smart_encode(text) == '"Hi" - it\'s here... - ok'
    info = analyze(text, smart_encoding=True)
    assert info.encoding == "GSM-7" and info.text == smart_encode(text)
    assert analyze(text).encoding == "UCS-2"


def test_smart_encoding_is_all_or_nothing():
    text = "\u201cHi\u201d " + EMOJI
    assert smart_encode(text) == text
    assert analyze(text, smart_encoding=True).text == text
    assert smart_encode("\u2019 ça va") == "\u2019 ça va"  # ç is not GSM-7


def test_smart_map_targets_are_gsm7_and_sources_are_not():
    for code, replacement in SMART_ENCODING_MAP.items():
        assert not is_gsm7(chr(code)), hex(code)
        assert is_gsm7(replacement), hex(code)


# --- properties ---------------------------------------------------------------------------


def _reference_segments(text: str) -> int:
    """Independent reference: cut the cumulative unit count at part capacities."""
    if not text:
        return 0
    gsm = all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)
    single, multi = (160, 153) if gsm else (70, 67)
    sizes = []
    for cluster in regex.findall(r"\X", text):  # a grapheme is never split between parts (Twilio's calculator)
        units = [(2 if c in GSM7_EXTENSION else 1) if gsm else len(c.encode("utf-16-le")) // 2 for c in cluster]
        sizes += units if sum(units) > multi else [sum(units)]
    ends = list(itertools.accumulate(sizes))
    if ends[-1] <= single:
        return 1
    parts, start_total, i = 0, 0, 0
    while i < len(sizes):
        # the longest run of whole characters from i whose units fit in `multi`
        j = i
        while j < len(sizes) and ends[j] - start_total <= multi:
            j += 1
        parts += 1
        start_total = ends[j - 1]
        i = j
    return parts


mixed_chars = st.one_of(
    st.sampled_from(GSM_CHARS),
    st.sampled_from(EXT_CHARS),
    st.sampled_from(["ç", "中", "\u2019", EMOJI, "\U0001f44d", "\u00a0"]),
    st.characters(blacklist_categories=("Cs",)),
)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=mixed_chars, max_size=700))
def test_segments_match_reference_packing(text):
    info = analyze(text)
    assert info.segments == _reference_segments(text)
    assert info.characters == len(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "\r", "\n", "\r\n", "€"]), min_size=60, max_size=250).map("".join))
def test_line_breaks_and_escapes_near_part_boundaries_match_reference_packing(text):
    assert analyze(text).segments == _reference_segments(text)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=400))
def test_gsm_text_up_to_160_septets_is_one_segment(text):
    info = analyze(text)
    assert info.encoding == "GSM-7"
    assert info.units == len(text) + sum(c in GSM7_EXTENSION for c in text)
    if 0 < info.units <= 160:
        assert info.segments == 1
    elif info.units > 160:
        assert info.segments >= math.ceil(info.units / 153)
        assert info.segments <= math.ceil(info.units / 152)  # at most one septet lost per part


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=200), st.sampled_from(["ç", "中", EMOJI, "\u2019"]))
def test_adding_a_ucs2_char_switches_encoding(text, extra):
    assert analyze(text).encoding == "GSM-7"
    assert analyze(text + extra).encoding == "UCS-2"
    assert analyze(extra + text).encoding == "UCS-2"


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=300))
def test_smart_encode_leaves_gsm7_text_alone(text):
    assert smart_encode(text) == text
    assert analyze(text, smart_encoding=True) == analyze(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.one_of(mixed_chars, st.sampled_from([chr(c) for c in SMART_ENCODING_MAP])), max_size=200))
def test_smart_encode_returns_gsm7_or_the_original(text):
    out = smart_encode(text)
    assert out == text or is_gsm7(out)
    if out != text:
        assert not is_gsm7(text)
