"""Fixtures for the carrier tests: a Telnyx emulator signing with a key made here, and a bridge per carrier."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.emulators import TelnyxEmulator
from tests.support import telnyx_openapi


@pytest.fixture
async def telnyx():
    emulator = TelnyxEmulator(Ed25519PrivateKey.generate())
    violations = telnyx_openapi.watch(emulator)
    await emulator.start()
    yield emulator
    await emulator.stop()
    assert not emulator.server_errors, emulator.server_errors
    assert not violations, "not as Telnyx's API description says:\n" + "\n".join(violations)


@pytest.fixture(params=["twilio", "telnyx"])
def carrier_name(request) -> str:
    return request.param


@pytest.fixture
def phone(carrier_name, twilio, telnyx):
    """The emulated carrier the bridge's lines use in this run."""
    return twilio if carrier_name == "twilio" else telnyx


@pytest.fixture
async def telnyx_bridge(make_bridge, telnyx):
    return await make_bridge(telnyx=telnyx, env={"SMS_PROVIDER": "telnyx"})


@pytest.fixture
async def carrier_bridge(make_bridge, carrier_name, telnyx):
    return await make_bridge(telnyx=telnyx, env={"SMS_PROVIDER": carrier_name})
