"""Local mode: an embedded Slack workspace, so the whole product runs with no accounts."""

from bot.local.slack.workspace import LocalWorkspace

__all__ = ["LocalWorkspace"]
