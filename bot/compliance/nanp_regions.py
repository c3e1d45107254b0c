"""US and Canadian subdivisions of numbers, by prefix, from the ``phonenumbers`` geocoder's English descriptions
("Florida", "Miami, FL", "Ontario").

The geocoder's data covers every country and takes about 130 MB once imported. Quiet hours need only the +1
prefixes, reduced to a subdivision code each, so the reduction runs in a child process (``python -m
bot.compliance.nanp_regions`` prints it as JSON); the table, a few thousand entries, is kept in a cache file per
phonenumbers version and read by every later start. `load()` (async, at the app's start) or the first
`subdivision()` call fills it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import phonenumbers
from phonenumbers.phonenumberutil import is_number_type_geographical, number_type

_US_STATES = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington State",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "DC": "Washington D.C.",
}
_CA_PROVINCES = {
    "AB": "Alberta",
    "BC": "British Columbia",
    "MB": "Manitoba",
    "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador",
    "NS": "Nova Scotia",
    "NT": "Northwest Territories",
    "NU": "Nunavut",
    "ON": "Ontario",
    "PE": "Prince Edward Island",
    "QC": "Quebec",
    "SK": "Saskatchewan",
    "YT": "Yukon",
}
_SUBDIVISIONS = {"US": _US_STATES, "CA": _CA_PROVINCES}
# Description -> code, for descriptions that are a whole state/province name.  Variants the
# geocoder uses are listed too ("Washington" is the state; D.C. is spelled out).
_BY_NAME = {
    country: {name.casefold(): code for code, name in table.items()} for country, table in _SUBDIVISIONS.items()
}
_BY_NAME["US"].update(
    {"washington": "WA", "washington, d.c.": "DC", "washington dc": "DC", "district of columbia": "DC"}
)
_BY_NAME["CA"].update(
    {
        "québec": "QC",
        "newfoundland": "NL",
        "labrador": "NL",
        "yukon territory": "YT",
        "pei": "PE",
        "british colombia": "BC",
    }
)  # the geocoder's own spelling for 257


_TABLE: dict[str, str] = {}  # "1" + digits -> subdivision code, "" where the description names none
_LONGEST = 0
_CHILD_TIMEOUT = 120.0


def code_for(description: str) -> str | None:
    """The subdivision code a geocoder description names (US or CA), if any."""
    description = description.strip()
    for country, table in _SUBDIVISIONS.items():
        by_name = _BY_NAME[country]
        code = by_name.get(description.casefold())
        if code is None and "," in description:
            tail = description.rsplit(",", 1)[1].strip()
            code = tail.upper() if tail.upper() in table else by_name.get(tail.casefold())
        if code:
            return code
    return None


def build() -> dict[str, str]:
    """The +1 prefixes' codes from the geocoder (imports all of its data: run in a child process). A prefix whose
    code is its shorter prefix's is left out; longest-prefix lookup finds the same."""
    from phonenumbers.geodata import GEOCODE_DATA

    raw = {
        prefix: code_for(names["en"]) or ""
        for prefix, names in GEOCODE_DATA.items()
        if prefix[:1] == "1" and "en" in names  # the geocoder skips a prefix with no English name
    }
    kept: dict[str, str] = {}
    for prefix in sorted(raw, key=len):
        inherited = next((kept[prefix[:n]] for n in range(len(prefix) - 1, 0, -1) if prefix[:n] in kept), None)
        if inherited != raw[prefix]:
            kept[prefix] = raw[prefix]
    return kept


def _cache_file() -> Path:
    root = Path(os.environ.get("SMS_BRIDGE_CACHE_DIR") or Path(tempfile.gettempdir()) / "sms-bridge-cache")
    return root / f"nanp-regions-{phonenumbers.__version__}.json"


def _use(table: dict[str, str]) -> None:
    global _LONGEST
    _TABLE.clear()
    _TABLE.update(table)
    _LONGEST = max(map(len, table), default=0)


def _store(table_json: bytes) -> None:
    path = _cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(table_json)
    partial.replace(path)  # atomic: a concurrent start reads the old file or the new one, never half of one


def _cached() -> dict[str, str] | None:
    try:
        return json.loads(_cache_file().read_bytes())
    except (OSError, ValueError):
        return None


async def load() -> None:
    """Fill the table without blocking the event loop (in a thread): from the cache file, else from a child
    process."""
    if not _TABLE:
        await asyncio.to_thread(_load_blocking)


def _load_blocking() -> None:
    """Fill the table; `subdivision()` calls it directly when asked before the app started (the CLI, tests)."""
    table = _cached()
    if table is None:
        out = subprocess.run(
            [sys.executable, "-m", __name__], capture_output=True, check=True, timeout=_CHILD_TIMEOUT
        ).stdout
        _store(out)
        table = json.loads(out)
    _use(table)


def subdivision(number: phonenumbers.PhoneNumber) -> str | None:
    """ISO 3166-2 subdivision of a US or Canadian number (``"US-FL"``), else ``None``.

    As the geocoder's description of the number's prefix says: a state or province name ("Florida",
    "Ontario") or "City, XX" with a postal abbreviation. Numbers of other countries, numbers of a kind the
    geocoder does not place (toll-free), descriptions naming only the country and shared area codes naming two
    provinces ("Nova Scotia/Prince Edward Island") give ``None``."""
    country = phonenumbers.region_code_for_number(number)
    subdivisions = _SUBDIVISIONS.get(country or "")
    if subdivisions is None or not is_number_type_geographical(number_type(number), number.country_code or 0):
        return None
    if not _TABLE:
        _load_blocking()
    digits = f"{number.country_code}{phonenumbers.national_significant_number(number)}"
    for length in range(min(len(digits), _LONGEST), 0, -1):
        code = _TABLE.get(digits[:length])
        if code is not None:
            return f"{country}-{code}" if code in subdivisions else None
    return None


if __name__ == "__main__":
    sys.stdout.write(json.dumps(build(), separators=(",", ":"), sort_keys=True))
