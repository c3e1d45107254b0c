"""Contacts in and out as CSV.

Import (`import_csv`) is all-or-nothing: every row is checked first, and one bad row rejects the whole file
with a report naming every rejected row (row number as a spreadsheet shows it, the header being row 1).
Columns (header required, any order, case-insensitive):

    phone (required), first_name, last_name, tags (separated by ; or |),
    consent (opt_in / opt_out / blank), consent_source, consent_at (ISO 8601; no offset means UTC),
    number_status (written by export, ignored on import)

Contacts are upserted by phone: a blank name cell keeps the stored name, tags are added to the stored ones.
Consent cells append consent-ledger events (source "import", every line) dated `consent_at`; an opt-in needs
a consent_source and a consent_at. The ledger is append-only, so an importable opt-in dated before an opt-out
already on record is not applied (reported as skipped): an old consent never overrides a later STOP.
Re-importing the same file adds no duplicate events.

Export (`export_csv`) writes the same columns with each number's current consent state, every cell that a
spreadsheet would run as a formula (starting with = + - @ TAB CR) prefixed by an apostrophe.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent
from bot.phone import InvalidPhoneNumber, is_e164, parse_e164
from storage.models import ConsentEvent, Contact, ContactTag

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
MAX_NAME = 100
MAX_TAG = 64
MAX_SOURCE = 300
MAX_REPORTED = 1000  # rejected rows listed in the report beyond this are counted, not listed

COLUMNS = ("phone", "first_name", "last_name", "tags", "consent", "consent_source", "consent_at")
EXPORT_COLUMNS = COLUMNS + ("number_status",)
KNOWN_COLUMNS = frozenset(EXPORT_COLUMNS)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONSENT_VALUES = {"opt_in": "opt_in", "opt_out": "opt_out", "": ""}
_CHUNK = 500


@dataclass(frozen=True)
class RowError:
    row: int  # 1 is the header; 0 means the file as a whole
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        value = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        cell = f", {self.column} {value!r}" if self.column else ""
        return f"{where}{cell}: {self.reason}"


@dataclass
class ImportReport:
    filename: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    tags_added: int = 0
    consent_events: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0  # may exceed len(errors) when the list was cut at MAX_REPORTED
    skipped: list[str] = field(default_factory=list)  # applied file, but these consent cells were not recorded

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def reject(self, row: int, column: str, value: str, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append(RowError(row, column, value, reason))

    def summary(self) -> str:
        name = f"{self.filename}: " if self.filename else ""
        if not self.ok:
            rows = {e.row for e in self.errors if e.row > 1}
            if any(e.row == 1 for e in self.errors):
                what = "the header is wrong"
            elif rows:
                what = f"{len(rows)} row{'s' if len(rows) != 1 else ''} rejected"
            else:
                what = "file rejected"
            return f"{name}{what}; nothing was imported."
        text = (
            f"{name}imported {self.rows} row{'s' if self.rows != 1 else ''}: {self.created} new contact"
            f"{'s' if self.created != 1 else ''}, {self.updated} updated, {self.tags_added} tag"
            f"{'s' if self.tags_added != 1 else ''} added, {self.consent_events} consent event"
            f"{'s' if self.consent_events != 1 else ''} recorded."
        )
        if self.skipped:
            text += f" {len(self.skipped)} consent cell{'s' if len(self.skipped) != 1 else ''} not applied."
        return text

    def lines(self, limit: int | None = None) -> list[str]:
        """The report as text lines: the summary, then every rejected row (or skipped consent cell)."""
        out = [self.summary()]
        details = [str(e) for e in self.errors] if not self.ok else self.skipped
        shown = details if limit is None else details[:limit]
        out += [f"  {d}" for d in shown]
        hidden = (self.error_count if not self.ok else len(self.skipped)) - len(shown)
        if hidden > 0:
            out.append(f"  ... and {hidden} more")
        return out

    def text(self, limit: int | None = None) -> str:
        return "\n".join(self.lines(limit))


@dataclass
class _Row:
    number: int
    phone: str
    first_name: str
    last_name: str
    tags: list[str]
    consent: str
    consent_source: str
    consent_at: datetime | None


def _decode(data: str | bytes, report: ImportReport) -> str | None:
    if isinstance(data, str):
        return data[1:] if data.startswith("\ufeff") else data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.reject(
            0,
            "",
            "",
            f"the file is not UTF-8 text (bad byte at offset {exc.start}); save it as 'CSV UTF-8' and try again",
        )
        return None


def _parse_time(text: str) -> datetime:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed_date = date.fromisoformat(value)  # raises ValueError too
        parsed = datetime(parsed_date.year, parsed_date.month, parsed_date.day)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _looks_like_formula(value: str) -> bool:
    return value.startswith(FORMULA_STARTS)


def _check_text(report: ImportReport, row: int, column: str, value: str, limit: int) -> str:
    value = value.strip()
    if _looks_like_formula(value):
        report.reject(row, column, value, "starts like a spreadsheet formula (= + - @); remove that character")
    elif len(value) > limit:
        report.reject(row, column, value, f"is longer than {limit} characters")
    elif any(ord(ch) < 32 for ch in value):
        report.reject(row, column, value, "contains control characters")
    return value


def _check_header(header: list[str], report: ImportReport) -> list[str] | None:
    names = [h.strip().lower() for h in header]
    unknown = [h for h, n in zip(header, names, strict=False) if n not in KNOWN_COLUMNS]
    for original in unknown:
        report.reject(1, "header", original, f"unknown column; the columns are {', '.join(COLUMNS)}")
    seen: set[str] = set()
    for name in names:
        if name in seen and name in KNOWN_COLUMNS:
            report.reject(1, "header", name, "column appears twice")
        seen.add(name)
    if "phone" not in names:
        report.reject(1, "header", ",".join(header), "missing column 'phone' (the header must name a phone column)")
    if "consent" in names:
        for needed in ("consent_source", "consent_at"):
            if needed not in names:
                report.reject(1, "header", ",".join(header), f"missing column {needed!r} (needed with 'consent')")
    return None if report.error_count else names


def _check_row(report: ImportReport, number: int, cells: dict[str, str], now: datetime) -> _Row | None:
    before = report.error_count
    raw_phone = cells.get("phone", "").strip()
    phone = ""
    try:
        # An exported file escapes "+1..." as "'+1...": accept it back.
        phone = parse_e164(raw_phone[1:] if raw_phone.startswith("'") else raw_phone)
    except InvalidPhoneNumber as exc:
        reason = "is empty; every row needs a phone" if not raw_phone else "is not a valid phone number"
        report.reject(number, "phone", raw_phone, reason if not raw_phone else f"{reason} ({exc})")
    first = _check_text(report, number, "first_name", cells.get("first_name", ""), MAX_NAME)
    last = _check_text(report, number, "last_name", cells.get("last_name", ""), MAX_NAME)
    tags: list[str] = []
    raw_tags = cells.get("tags", "")
    for part in raw_tags.replace("|", ";").split(";"):
        tag = part.strip()
        if not tag:
            continue
        tag = _check_text(report, number, "tags", tag, MAX_TAG)
        if tag not in tags:
            tags.append(tag)
    raw_consent = cells.get("consent", "").strip()
    consent_value = CONSENT_VALUES.get(raw_consent.lower().replace("-", "_"))
    if consent_value is None:
        report.reject(number, "consent", raw_consent, "must be opt_in, opt_out or blank")
    source = _check_text(report, number, "consent_source", cells.get("consent_source", ""), MAX_SOURCE)
    raw_at = cells.get("consent_at", "").strip()
    at: datetime | None = None
    if raw_at:
        try:
            at = _parse_time(raw_at)
        except ValueError:
            report.reject(number, "consent_at", raw_at, "is not an ISO 8601 date or time (like 2024-05-01T14:30:00Z)")
        else:
            if at > now:
                report.reject(number, "consent_at", raw_at, "is in the future")
    if not consent_value and (source or raw_at):
        report.reject(number, "consent", raw_consent, "is blank but consent_source/consent_at are given")
    if consent_value == "opt_in":
        if not source:
            report.reject(number, "consent_source", "", "an opt-in needs its source (where the consent was given)")
        if not raw_at:
            report.reject(number, "consent_at", "", "an opt-in needs the time the consent was given")
    if report.error_count != before:
        return None
    return _Row(number, phone, first, last, tags, consent_value or "", source, at)


def _rows(text: str, report: ImportReport, now: datetime) -> list[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)  # leading blank lines
        if header is None:
            report.reject(
                0,
                "",
                "",
                f"the file is empty; the first line must be a header naming the columns, e.g. {','.join(COLUMNS)}",
            )
            return []
        names = _check_header(header, report)
        if names is None:
            return []
        rows: list[_Row] = []
        seen: dict[str, int] = {}
        number = 1
        for record in reader:
            number += 1
            if not any(cell.strip() for cell in record):
                continue  # blank lines (often at the end) are not rows
            if number - 1 > MAX_ROWS:
                report.reject(0, "", "", f"the file has more than {MAX_ROWS} rows; split it into smaller files")
                return []
            if len(record) != len(names):
                report.reject(
                    number, "", ",".join(record), f"has {len(record)} cells but the header has {len(names)} columns"
                )
                continue
            row = _check_row(report, number, dict(zip(names, record, strict=False)), now)
            if row is None:
                continue
            if row.phone in seen:
                report.reject(number, "phone", row.phone, f"the same number is on row {seen[row.phone]}")
                continue
            seen[row.phone] = number
            rows.append(row)
    except csv.Error as exc:
        report.reject(0, "", "", f"the file is not valid CSV near line {reader.line_num}: {exc}")
        return []
    if not rows and report.ok:
        report.reject(0, "", "", "the file has a header but no rows")
    return rows


async def import_csv(
    session: AsyncSession, text: str | bytes, *, filename: str = "import.csv", now: datetime | None = None
) -> ImportReport:
    """Import contacts from CSV text (or raw bytes, which must be UTF-8) in the caller's transaction.

    Checks everything first; with any rejected row, nothing is written and `report.ok` is False.
    """
    now = now or datetime.now(UTC)
    report = ImportReport(filename=filename)
    size = len(text.encode("utf-8")) if isinstance(text, str) else len(text)
    if size > MAX_FILE_BYTES:
        report.reject(0, "", "", f"the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes")
        return report
    decoded = _decode(text, report)
    if decoded is None:
        return report
    if "\x00" in decoded:
        report.reject(0, "", "", "the file contains NUL bytes: it is not a CSV text file")
        return report
    rows = _rows(decoded, report, now)
    if not report.ok:
        return report
    report.rows = len(rows)
    await _apply(session, rows, report, filename, now)
    return report


async def _apply(session: AsyncSession, rows: list[_Row], report: ImportReport, filename: str, now: datetime) -> None:
    phones = [row.phone for row in rows]
    contacts: dict[str, Contact] = {}
    for start in range(0, len(phones), _CHUNK):
        chunk = phones[start : start + _CHUNK]
        contacts.update(
            {c.phone: c for c in (await session.scalars(select(Contact).where(Contact.phone.in_(chunk)))).all()}
        )
    for row in rows:
        contact = contacts.get(row.phone)
        if contact is None:
            contact = Contact(phone=row.phone, phone_checked=True, first_name=row.first_name, last_name=row.last_name)
            session.add(contact)
            contacts[row.phone] = contact
            report.created += 1
        else:
            changed = False
            contact.phone_checked = True  # the same text as the row's, which was just validated
            if row.first_name and row.first_name != contact.first_name:
                contact.first_name, changed = row.first_name, True
            if row.last_name and row.last_name != contact.last_name:
                contact.last_name, changed = row.last_name, True
            report.updated += changed
    await session.flush()

    tagged = [row for row in rows if row.tags]
    existing_tags: set[tuple[int, str]] = set()
    ids = [contacts[row.phone].id for row in tagged]
    for start in range(0, len(ids), _CHUNK):
        found = await session.execute(
            select(ContactTag.contact_id, ContactTag.tag).where(ContactTag.contact_id.in_(ids[start : start + _CHUNK]))
        )
        existing_tags.update((r.contact_id, r.tag) for r in found)
    for row in tagged:
        contact_id = contacts[row.phone].id
        for tag in row.tags:
            if (contact_id, tag) not in existing_tags:
                session.add(ContactTag(contact_id=contact_id, tag=tag))
                existing_tags.add((contact_id, tag))
                report.tags_added += 1

    with_consent = [row for row in rows if row.consent]
    events: dict[str, list[ConsentEvent]] = {}
    consent_phones = [row.phone for row in with_consent]
    for start in range(0, len(consent_phones), _CHUNK):
        for event in await session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.phone.in_(consent_phones[start : start + _CHUNK]))
            .order_by(ConsentEvent.id.desc())
        ):
            events.setdefault(event.phone, []).append(event)
    for row in with_consent:
        known = events.get(row.phone, [])
        at = row.consent_at or now
        if row.consent_at is not None and any(
            e.action == row.consent and e.source == "import" and e.line_id is None and _same_time(e.created_at, at)
            for e in known
        ):
            continue  # this very consent was imported before
        if (
            row.consent_at is None
            and known
            and (known[0].action, known[0].scope, known[0].line_id) == (row.consent, "all", None)
        ):
            continue  # an undated opt-out of a number already opted out everywhere adds nothing
        if row.consent == "opt_in":
            later_out = next((e for e in known if e.action == "opt_out" and _utc(e.created_at) >= at), None)
            if later_out is not None:
                report.skipped.append(
                    f"row {row.number}, {row.phone}: opt_in of {at:%Y-%m-%d %H:%M} UTC not applied: "
                    "the number opted out "
                    f"later ({later_out.source}, {_utc(later_out.created_at):%Y-%m-%d %H:%M} UTC)"
                )
                continue
        source = f"; consent_source: {row.consent_source}" if row.consent_source else ""
        await consent.record(
            session,
            phone=row.phone,
            action=row.consent,
            source="import",
            scope="all",
            line_id=None,
            evidence=f"imported from {filename} row {row.number}{source}",
            at=at,
        )
        report.consent_events += 1
    await session.flush()


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _same_time(a: datetime, b: datetime) -> bool:
    return abs((_utc(a) - _utc(b)).total_seconds()) < 1


# --- export -----------------------------------------------------------------------------


def escape_cell(value: str) -> str:
    """Prefix a cell a spreadsheet would evaluate as a formula with an apostrophe."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def export_state(events: list[ConsentEvent]) -> ConsentEvent | None:
    """The event that decides what an export says about a number (events newest first, every line).

    Opted out (of anything) on any line wins, so that a re-import never resumes sending where a number
    stopped; otherwise the newest marketing opt-in, if one still holds on some line.
    """
    line_ids = {e.line_id for e in events} | {None}
    outs, ins = [], []
    for line_id in line_ids:
        relevant = [e for e in events if e.line_id in (line_id, None)]
        for purpose in ("transactional", "marketing"):
            governing = consent.governing_event(relevant, purpose)
            if governing is None:
                continue
            if governing.action == "opt_out":
                outs.append(governing)
            elif purpose == "marketing":
                ins.append(governing)
    if outs:
        return max(outs, key=lambda e: e.id)
    return max(ins, key=lambda e: e.id) if ins else None


async def export_csv(session: AsyncSession) -> str:
    """Every contact (and every number in the consent ledger) as CSV, with its current consent state."""
    contacts = {c.phone: c for c in (await session.scalars(select(Contact).order_by(Contact.phone))).all()}
    tags: dict[int, list[str]] = {}
    for row in await session.execute(select(ContactTag.contact_id, ContactTag.tag).order_by(ContactTag.tag)):
        tags.setdefault(row.contact_id, []).append(row.tag)
    events: dict[str, list[ConsentEvent]] = {}
    for event in await session.scalars(select(ConsentEvent).order_by(ConsentEvent.id.desc())):
        events.setdefault(event.phone, []).append(event)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for phone in sorted(set(contacts) | set(events)):
        contact = contacts.get(phone)
        deciding = export_state(events.get(phone, []))
        consent_source = ""
        if deciding is not None:
            consent_source = deciding.source + (f": {deciding.evidence}" if deciding.evidence else "")
        cells = [
            phone,
            contact.first_name if contact else "",
            contact.last_name if contact else "",
            ";".join(tags.get(contact.id, [])) if contact else "",
            deciding.action if deciding else "",
            consent_source,
            _utc(deciding.created_at).isoformat().replace("+00:00", "Z") if deciding else "",
            contact.number_status if contact else "ok",
        ]
        # An E.164 number is no formula: it is written as it is, so the file imports back and reads right.
        writer.writerow([phone if is_e164(phone) else escape_cell(phone)] + [escape_cell(c or "") for c in cells[1:]])
    return out.getvalue()
