"""Prometheus text exposition of the service's queues and message counts (read from the database)."""

from __future__ import annotations

from sqlalchemy import case, func, select

from bot.services import Services
from storage.models import ConversationEvent, Message, SlackOutbox

# Upper bounds (seconds) of the inbox histograms' buckets: a minute to three days.
INBOX_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600)
INBOX_HISTOGRAMS = {
    "first_answer": (
        "sms_bridge_time_to_first_answer_seconds",
        "From a customer's first waiting text of an open period to the first agent answer, per line.",
    ),
    "resolved": (
        "sms_bridge_time_to_resolve_seconds",
        "From a conversation's opening (or reopening) to its resolution, per line.",
    ),
}


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
    out += await _inbox_histograms(services)
    return "\n".join(out) + "\n"


async def _inbox_histograms(services: Services) -> list[str]:
    """Time to first answer and time to resolve, from the conversations' history (the same on every replica)."""
    buckets = [func.sum(case((ConversationEvent.seconds <= bound, 1), else_=0)) for bound in INBOX_BUCKETS]
    query = (
        select(
            ConversationEvent.kind,
            ConversationEvent.line_id,
            func.count(),
            func.coalesce(func.sum(ConversationEvent.seconds), 0.0),
            *buckets,
        )
        .where(ConversationEvent.kind.in_(list(INBOX_HISTOGRAMS)), ConversationEvent.seconds.is_not(None))
        .group_by(ConversationEvent.kind, ConversationEvent.line_id)
    )
    async with services.db.session() as session:
        rows = (await session.execute(query)).all()
    out: list[str] = []
    for kind, (name, help_text) in INBOX_HISTOGRAMS.items():
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        for row in rows:
            if row[0] != kind:
                continue
            known = services.lines.by_id(row[1])
            label = _escape(known.config.key if known else str(row[1]))
            count, total, counts = row[2], float(row[3]), row[4:]
            for bound, n in zip(INBOX_BUCKETS, counts, strict=True):
                out.append(f'{name}_bucket{{line="{label}",le="{bound}"}} {int(n or 0)}')
            out.append(f'{name}_bucket{{line="{label}",le="+Inf"}} {count}')
            out.append(f'{name}_sum{{line="{label}"}} {total}')
            out.append(f'{name}_count{{line="{label}"}} {count}')
    return out
