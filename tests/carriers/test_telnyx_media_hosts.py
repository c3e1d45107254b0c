"""Inbound media is fetched only from Telnyx's hosts, and the API key is sent only to the API host."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bot.carriers.base import PermanentCarrierError
from bot.carriers.telnyx import TelnyxCarrier
from tests.emulators.telnyx_api import public_key_b64


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:9/v2/media/x",  # loopback, but not the configured API host
        "http://media.telnyx.com/x.png",  # Telnyx's, but not over HTTPS
        "https://telnyx.com.evil.example/x.png",
        "file:///etc/passwd",
    ],
)
async def test_media_from_elsewhere_is_refused_before_any_request(url):
    carrier = TelnyxCarrier("KEY", public_key_b64(Ed25519PrivateKey.generate()), "http://127.0.0.1:8794")
    try:
        with pytest.raises(PermanentCarrierError, match="not on Telnyx's media host"):
            await carrier.fetch_media(url)
    finally:
        await carrier.close()
