"""Loopback HTTP emulators of Slack and Twilio used by the integration tests."""

from .slack_api import SlackEmulator
from .twilio_api import TwilioEmulator

__all__ = ["SlackEmulator", "TwilioEmulator"]
