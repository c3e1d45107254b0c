"""Loopback HTTP emulators of Slack, Twilio and Telnyx used by the integration tests."""

from .slack_api import SlackEmulator
from .telnyx_api import TelnyxEmulator
from .twilio_api import TwilioEmulator

__all__ = ["SlackEmulator", "TelnyxEmulator", "TwilioEmulator"]
