"""SMS carriers behind one interface (`Carrier`), one package each, chosen per line by settings."""

from __future__ import annotations

from bot.carriers.base import Carrier
from bot.settings import ConfigError, Settings


def build_carrier(settings: Settings, name: str | None = None) -> Carrier:
    """The carrier `name` names (default: SMS_PROVIDER), with the credentials the settings give it."""
    name = name or settings.sms_provider
    if name == "twilio":
        from bot.carriers.twilio import TwilioCarrier

        account_sid, auth_token = settings.twilio_account_sid, settings.twilio_auth_token
        if not account_sid or not auth_token:
            raise ConfigError("a twilio line needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        return TwilioCarrier(account_sid, auth_token, settings.twilio_api_url)
    if name == "telnyx":
        from bot.carriers.telnyx import TelnyxCarrier

        if not settings.telnyx_api_key or not settings.telnyx_public_key:
            raise ConfigError("a telnyx line needs TELNYX_API_KEY and TELNYX_PUBLIC_KEY")
        return TelnyxCarrier(settings.telnyx_api_key, settings.telnyx_public_key, settings.telnyx_api_url)
    from bot.carriers.simulator import SimulatorCarrier

    return SimulatorCarrier()


def build_carriers(settings: Settings, given: dict[str, Carrier] | None = None) -> dict[str, Carrier]:
    """A carrier for every name SMS_PROVIDER and the lines use; `given` ones (tests) are taken as they are."""
    carriers = dict(given or {})
    for name in settings.carriers_used():
        if name not in carriers:
            carriers[name] = build_carrier(settings, name)
    return carriers
