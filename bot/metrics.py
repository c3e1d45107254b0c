"""Prometheus text exposition of the service's queues and message counts (read from the database)."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.services import Services
from storage.models import Message, SlackOutbox


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


async def render(services: Services) -> str:
    """Metrics as Prometheus text format 0.0.4."""
    async with services.db.session() as session:
        messages = (
            await session.execute(
                select(Message.direction, Message.status, func.count()).group_by(Message.direction, Message.status)
            )
        ).all()
        outbox = (await session.execute(select(SlackOutbox.status, func.count()).group_by(SlackOutbox.status))).all()
    out = ["# HELP sms_bridge_messages Messages stored, by direction and status.", "# TYPE sms_bridge_messages gauge"]
    out += [f'sms_bridge_messages{{direction="{_escape(d)}",status="{_escape(s)}"}} {n}' for d, s, n in messages]
    out += ["# HELP sms_bridge_slack_outbox Slack outbox rows, by status.", "# TYPE sms_bridge_slack_outbox gauge"]
    out += [f'sms_bridge_slack_outbox{{status="{_escape(s)}"}} {n}' for s, n in outbox]
    return "\n".join(out) + "\n"
