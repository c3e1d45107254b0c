"""SMS carriers behind one interface (`Carrier`), chosen by settings."""

from __future__ import annotations

from bot.carriers.base import Carrier
from bot.settings import ConfigError, Settings


def build_carrier(settings: Settings) -> Carrier:
    """The carrier `SMS_PROVIDER` names."""
    if settings.sms_provider == "twilio":
        from bot.carriers.twilio import TwilioCarrier

        account_sid, auth_token = settings.twilio_account_sid, settings.twilio_auth_token
        if not account_sid or not auth_token:
            raise ConfigError("SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        return TwilioCarrier(account_sid, auth_token, settings.twilio_api_url)
    from bot.carriers.simulator import SimulatorCarrier

    return SimulatorCarrier()
