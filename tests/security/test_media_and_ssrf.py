"""Media links expire and cannot be forged; inbound media is fetched only from the carrier's own host."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.carriers.base import PermanentCarrierError
from bot.carriers.twilio import TwilioCarrier
from bot.media import LINK_LIFETIME, make_token, read_token

SECRET = "media-secret"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_a_media_token_opens_its_file_until_it_expires():
    token = make_token(SECRET, "abc123", NOW)
    assert read_token(SECRET, token, NOW) == "abc123"
    assert read_token(SECRET, token, NOW + LINK_LIFETIME - timedelta(seconds=1)) == "abc123"
    assert read_token(SECRET, token, NOW + LINK_LIFETIME + timedelta(seconds=1)) is None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("abc123", "abc124"),  # another file
        lambda t: t.split(".")[0] + "." + str(int(t.split(".")[1]) + 10**6) + "." + t.split(".")[2],  # longer life
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # forged signature
        lambda t: t.split(".")[0],  # malformed
    ],
)
def test_a_changed_token_opens_nothing(mangle):
    assert read_token(SECRET, mangle(make_token(SECRET, "abc123", NOW)), NOW) is None


def test_a_token_signed_with_another_secret_opens_nothing():
    assert read_token(SECRET, make_token("other", "abc123", NOW), NOW) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:5432/",
        "https://evil.example/2010-04-01/Accounts/AC" + "1" * 32 + "/Messages/MM1/Media/ME1",
        "https://api.twilio.com/2010-04-01/Accounts/AC" + "2" * 32 + "/Messages/MM1/Media/ME1",  # another account
        "file:///etc/passwd",
    ],
)
async def test_inbound_media_is_fetched_only_from_the_carrier(url):
    carrier = TwilioCarrier("AC" + "1" * 32, "token", "https://api.twilio.com")
    try:
        assert not carrier.is_media_url(url)
        with pytest.raises(PermanentCarrierError):
            await carrier.fetch_media(url)
    finally:
        await carrier.close()


def test_the_carriers_own_media_urls_are_allowed():
    carrier = TwilioCarrier("AC" + "1" * 32, "token", "https://api.twilio.com")
    assert carrier.is_media_url("https://api.twilio.com/2010-04-01/Accounts/AC" + "1" * 32 + "/Messages/MM1/Media/ME1")
