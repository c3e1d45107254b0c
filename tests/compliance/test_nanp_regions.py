"""The +1 region table says what the phonenumbers geocoder says, for a number of every area code it describes."""

from __future__ import annotations

import json
import subprocess
import sys

import phonenumbers
from phonenumbers import geocoder

from bot.compliance import nanp_regions


def geocoder_region(number: phonenumbers.PhoneNumber) -> str | None:
    """The region straight from the geocoder's description (what the table stands for)."""
    country = phonenumbers.region_code_for_number(number)
    if country not in ("US", "CA"):
        return None
    code = nanp_regions.code_for(geocoder.description_for_number(number, "en"))
    return f"{country}-{code}" if code and code in nanp_regions._SUBDIVISIONS[country] else None


def test_every_area_code_agrees_with_the_geocoder():
    from phonenumbers.geodata import GEOCODE_DATA

    area_codes = sorted({prefix[1:4] for prefix in GEOCODE_DATA if prefix[:1] == "1" and len(prefix) >= 4})
    checked = 0
    for area in area_codes:
        for line in ("2345678", "5550123", "8675309"):
            number = phonenumbers.parse(f"+1{area}{line}")
            if not phonenumbers.is_valid_number(number):
                continue
            assert nanp_regions.subdivision(number) == geocoder_region(number), f"+1{area}{line}"
            checked += 1
    assert checked > 300


def test_the_child_process_prints_the_table():
    out = subprocess.run([sys.executable, "-m", "bot.compliance.nanp_regions"], capture_output=True, check=True)
    table = json.loads(out.stdout)
    assert table["1305"] == "FL" and table["1416"] == "ON"
    assert 1000 < len(table) < 20000
