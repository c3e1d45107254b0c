"""`sms-bridge consent export [NUMBER]`: every consent event with its evidence, as CSV, for an audit or a court.

One row per ledger event, oldest first: when, which number and line, what (opt_in, opt_out, or lift: a START
that lifted an opt-out), for which traffic (scope), the source, who made it (a Slack user, or blank for the
customer's own text, an import or the carrier), the evidence written when it was recorded, and the inbound text
that carried it (its carrier id, time and words) when a text did. Cells a spreadsheet would run as formulas are
escaped; E.164 numbers are written as they are.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.contacts.csv_io import escape_cell
from bot.phone import is_e164
from storage.models import ConsentEvent, Line, Message

COLUMNS = (
    "event_id",
    "recorded_at",
    "phone",
    "line",
    "action",
    "scope",
    "source",
    "actor",
    "evidence",
    "message_sid",
    "message_received_at",
    "message_text",
)


def _iso(when) -> str:
    return when.isoformat().replace("+00:00", "Z") if when is not None else ""


async def export_consent_csv(session: AsyncSession, phone: str | None = None) -> str:
    """The ledger (of one number, or of every number) as CSV, oldest first."""
    query = (
        select(ConsentEvent, Line.key, Message)
        .outerjoin(Line, Line.id == ConsentEvent.line_id)
        .outerjoin(Message, Message.id == ConsentEvent.message_id)
        .order_by(ConsentEvent.id)
    )
    if phone is not None:
        query = query.where(ConsentEvent.phone == phone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for event, line_key, message in (await session.execute(query)).all():
        cells = [
            str(event.id),
            _iso(event.created_at),
            event.phone,
            line_key or "all lines",
            event.action,
            event.scope,
            event.source,
            event.actor or "",
            event.evidence or "",
            message.carrier_sid or "" if message else "",
            _iso(message.created_at) if message else "",
            message.body if message else "",
        ]
        writer.writerow([c if i in (2, 3) and is_e164(c) else escape_cell(c) for i, c in enumerate(cells)])
    return out.getvalue()
