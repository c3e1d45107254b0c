"""Who may do what: admins and approvers come from the config file; everyone else is a member."""

from __future__ import annotations

from bot.settings import Settings


def is_admin(settings: Settings, user: str) -> bool:
    return user in settings.admins


def is_approver(settings: Settings, user: str) -> bool:
    return user in settings.approvers


def refusal(needed: str) -> str:
    """The answer a person gets when they may not run something."""
    return f":lock: Only {needed} may do that. Ask an admin listed in the sms-bridge config file."
