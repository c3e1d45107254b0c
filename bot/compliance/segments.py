"""SMS encoding and segment counting, matching Twilio's message segment calculator.

An SMS body travels in one of two encodings:

* **GSM-7** (3GPP TS 23.038 / GSM 03.38) when every character is in the GSM default
  alphabet.  Characters of the *basic* table cost one septet; characters of the
  *extension* table (``^ { } \\ [ ~ ] | €`` and form feed) are sent as ESC + code and
  cost two septets.
* **UCS-2** otherwise.  Each UTF-16 code unit costs 16 bits; characters outside the
  Basic Multilingual Plane (most emoji) are a surrogate pair and cost two units.

A message that fits in one segment may use the whole 140-byte payload: 160 septets or
70 UTF-16 units.  A longer message is sent as a concatenated SMS, and the 6-byte user
data header of each part leaves 153 septets or 67 units per segment.

Like Twilio's message segment calculator (which splits the text with a grapheme splitter
before packing it), a *grapheme* (a user-perceived character: an emoji ZWJ sequence such
as 👩‍👩‍👧, a flag 🇺🇸 made of two regional indicators, a letter with combining accents,
CR LF) never splits between two parts, and neither does an escape sequence or a
surrogate pair inside one.  So the count is a greedy packing grapheme by grapheme, not
``ceil(units / 153)``.  Graphemes are found with the ``regex`` module's ``\\X`` (Unicode
extended grapheme clusters, UAX #29).  A grapheme too long for a whole segment (only
an abuse of combining marks can make one) is packed code point by code point.

Characters are counted per Unicode code point (what ``len()`` on a Python ``str``
returns), and the 1600-character limit applies to that count.

Everything here is pure: no I/O, no clock, no global state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import regex

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MAX_BODY_CHARACTERS",
    "SMART_ENCODING_MAP",
    "SegmentInfo",
    "analyze",
    "is_gsm7",
    "smart_encode",
]

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 default alphabet, basic table, in code order 0x00..0x7F, written as the
# Unicode characters each septet stands for.  0x1B is the escape to the extension table
# and is not a character a sender can type, so it is left out (127 characters).
# 0x09 is CAPITAL C WITH CEDILLA (the 3GPP table; small ç is *not* GSM-7).
_BASIC_ROWS = (
    "@£$¥èéùìòÇ\nØø\rÅå",  # 0x00-0x0F
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ",  # 0x10-0x1F (0x1B ESC omitted)
    " !\"#¤%&'()*+,-./",  # 0x20-0x2F (0x24 is the currency sign ¤, $ is 0x02)
    "0123456789:;<=>?",  # 0x30-0x3F
    "¡ABCDEFGHIJKLMNO",  # 0x40-0x4F
    "PQRSTUVWXYZÄÖÑÜ§",  # 0x50-0x5F
    "¿abcdefghijklmno",  # 0x60-0x6F
    "pqrstuvwxyzäöñüà",  # 0x70-0x7F
)
GSM7_BASIC: frozenset[str] = frozenset("".join(_BASIC_ROWS))

# Extension table (each costs ESC + code = 2 septets): form feed, ^ { } \ [ ~ ] | €.
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

assert len(GSM7_BASIC) == 127 and len(GSM7_EXTENSION) == 10
assert not GSM7_BASIC & GSM7_EXTENSION
_GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION

MAX_BODY_CHARACTERS = 1600  # Twilio rejects bodies longer than this

_GSM_SINGLE, _GSM_MULTI = 160, 153  # septets
_UCS_SINGLE, _UCS_MULTI = 70, 67  # UTF-16 code units


def _build_smart_map() -> dict[int, str]:
    """Typographic characters and their GSM-7 stand-ins (written for this project)."""
    table: dict[str, str] = {}

    def put(chars: str, replacement: str) -> None:
        for ch in chars:
            table[ch] = replacement

    # Quotes, apostrophes, primes and accents used as apostrophes.
    put(
        "\u2018\u2019\u201a\u201b\u2032\u2035\u00b4\u02b9\u02bb\u02bc\u02bd\u02c8\u02ca\u02cb"
        "\u0060\u2039\u203a\u275b\u275c\uff07",
        "'",
    )
    put("\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u02ba\u02ee\u275d\u275e\u301d\u301e\uff02", '"')
    # Hyphens and dashes, minus sign.
    put("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\ufe63\uff0d", "-")
    # Bullets and similar list markers.
    put("\u2022\u2023\u2024\u2027\u2219\u25e6\u00b7\u30fb", "-")
    # Ellipsis and doubled punctuation.
    put("\u2026", "...")
    put("\u203c", "!!")
    put("\u2047", "??")
    put("\u2048", "?!")
    put("\u2049", "!?")
    # Spaces that are not U+0020 (no-break, en/em, thin, hair, narrow, ideographic...).
    put("\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t", " ")
    # Line and paragraph separators become a newline.
    put("\u2028\u2029\u0085", "\n")
    # Invisible characters: zero-width space/joiners, word joiner, BOM, soft hyphen.
    put("\u200b\u200c\u200d\u2060\ufeff\u00ad", "")
    # Slashes and fractions.
    put("\u2044\u2215\u00f7", "/")
    table["\u00bc"] = "1/4"
    table["\u00bd"] = "1/2"
    table["\u00be"] = "3/4"
    table["\u00d7"] = "x"
    # Fullwidth ASCII forms (U+FF01..U+FF5E) map onto ASCII; those whose ASCII twin is
    # not GSM-7 (the backtick) map to a non-GSM character and so never make text GSM-7.
    for code in range(0xFF01, 0xFF5F):
        table.setdefault(chr(code), chr(code - 0xFEE0))
    table["\uff40"] = "'"  # fullwidth grave accent
    return {ord(k): v for k, v in table.items()}


SMART_ENCODING_MAP: dict[int, str] = _build_smart_map()


_GRAPHEME = regex.compile(r"\X")


_LAST_BMP = "\uffff"  # a character after it takes two UTF-16 units (a surrogate pair)


def _utf16_units(text: str) -> int:
    """UTF-16 code units of `text`; a lone surrogate (JSON may carry one) counts as one."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _grapheme_sizes(text: str, encoding: str, multi: int) -> list[int]:
    """The units of each grapheme of `text`, the indivisible pieces of segment packing."""
    if encoding == GSM7:
        # The GSM-7 alphabet has no combining characters: each character is a grapheme of its own, but for CR LF
        # (one grapheme of two). Splitting the text with the grapheme rules cost 0.2 ms for 300 characters.
        sizes = []
        for index, line in enumerate(text.split("\r\n")):
            if index:
                sizes.append(2)
            sizes.extend([2 if ch in GSM7_EXTENSION else 1 for ch in line])
        return sizes
    sizes = []
    for grapheme in _GRAPHEME.findall(text):
        units = 1 if len(grapheme) == 1 and grapheme <= _LAST_BMP else _utf16_units(grapheme)
        if units > multi:  # longer than a segment: it cannot stay whole
            sizes.extend(_utf16_units(ch) for ch in grapheme)
        else:
            sizes.append(units)
    return sizes


def is_gsm7(text: str) -> bool:
    """True when every character of `text` is in the GSM 03.38 basic or extension table."""
    return _GSM7_ALL.issuperset(text)


def smart_encode(text: str) -> str:
    """Replace typographic characters with GSM-7 look-alikes when that makes `text` GSM-7.

    Curly quotes, dashes, the ellipsis, non-breaking and other odd spaces, bullets,
    zero-width characters and fullwidth ASCII are replaced (see ``SMART_ENCODING_MAP``).
    The replacement is all-or-nothing: if the replaced text would still need UCS-2
    (an emoji, a Chinese character, an ``á``...), `text` is returned unchanged, so a
    UCS-2 message keeps its original punctuation.  Text that is already GSM-7 is
    returned as is (none of its characters are in the map).
    """
    if is_gsm7(text):
        return text
    replaced = text.translate(SMART_ENCODING_MAP)
    return replaced if is_gsm7(replaced) else text


def _total_units(text: str, encoding: str) -> int:
    """The units of `text` in `encoding` (what `_grapheme_sizes` adds up to), counted without splitting it."""
    if encoding == GSM7:
        return len(text) + sum(text.count(ch) for ch in GSM7_EXTENSION)
    return _utf16_units(text)


def _count_segments(text: str, encoding: str, units: int, single: int, multi: int) -> int:
    """The parts `text` (`units` long in `encoding`) is sent in: greedy packing, each grapheme whole into the
    current part or the next.

    Graphemes matter only to where a long text splits: a text that fits one segment is not split (a campaign
    measures every recipient's text, and splitting it into graphemes was most of the cost), nor is a GSM-7 text
    of one-septet characters and no CR LF, where nothing can straddle two parts."""
    if units <= single:
        return min(units, 1)
    if encoding == GSM7 and units == len(text) and "\r\n" not in text:
        return math.ceil(units / multi)
    segments, used = 1, 0
    for size in _grapheme_sizes(text, encoding, multi):
        if used + size > multi:
            segments += 1
            used = 0
        used += size
    return segments


@dataclass(frozen=True)
class SegmentInfo:
    """How an SMS body would be sent.

    encoding:   ``"GSM-7"`` or ``"UCS-2"``.
    segments:   number of SMS parts (0 for empty text).
    characters: Unicode code points, as a person counts them.
    units:      GSM-7 septets (extension characters count 2) or UTF-16 code units.
    too_long:   more than 1600 characters, Twilio's body limit.
    text:       the text measured (after smart encoding, when that was applied).
    """

    encoding: str
    segments: int
    characters: int
    units: int
    too_long: bool
    text: str

    def as_dict(self) -> dict:
        """JSON-ready summary (what ``sms-bridge segments TEXT`` prints); omits the text."""
        return {
            "encoding": self.encoding,
            "segments": self.segments,
            "characters": self.characters,
            "units": self.units,
            "too_long": self.too_long,
        }


def analyze(text: str, *, smart_encoding: bool = False) -> SegmentInfo:
    """Measure `text` as Twilio would send it; with `smart_encoding`, measure ``smart_encode(text)``."""
    measured = smart_encode(text) if smart_encoding else text
    if is_gsm7(measured):
        encoding, single, multi = GSM7, _GSM_SINGLE, _GSM_MULTI
    else:
        encoding, single, multi = UCS2, _UCS_SINGLE, _UCS_MULTI
    units = _total_units(measured, encoding)
    return SegmentInfo(
        encoding=encoding,
        segments=_count_segments(measured, encoding, units, single, multi),
        characters=len(measured),
        units=units,
        too_long=len(measured) > MAX_BODY_CHARACTERS,
        text=measured,
    )
