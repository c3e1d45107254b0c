"""Contacts CSV import (all or nothing, with a full report) and export (formula-safe), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.compliance import consent
from bot.contacts import export_csv, import_csv
from bot.contacts.csv_io import MAX_FILE_BYTES
from storage.models import ConsentEvent, Contact, ContactTag

HEADER = "phone,first_name,last_name,tags,consent,consent_source,consent_at\n"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
GOOD = HEADER + (
    "(415) 555-0123,Ann,Lee,vip;east,opt_in,web form,2024-05-01T10:00:00Z\n"
    "+14155550124,Bo,,west|vip,opt_out,,\n"
    "415.555.0125,,,,,,\n"
)


async def counts(session) -> tuple[int, int, int]:
    return (
        await session.scalar(select(func.count(Contact.id))),
        await session.scalar(select(func.count()).select_from(ContactTag)),
        await session.scalar(select(func.count(ConsentEvent.id))),
    )


async def test_good_file_upserts_contacts_tags_and_consent(database):
    async with database.session() as session:
        report = await import_csv(session, GOOD, filename="list.csv", now=NOW)
    assert report.ok, report.text()
    assert (report.rows, report.created, report.tags_added, report.consent_events) == (3, 3, 4, 2)
    async with database.session() as session:
        assert await counts(session) == (3, 4, 2)
        ann = await session.scalar(select(Contact).where(Contact.phone == "+14155550123"))
        assert (ann.first_name, ann.last_name) == ("Ann", "Lee")
        assert ann.phone_checked  # validated on the way in: campaigns need not parse it again
        [event] = await consent.history(session, "+14155550123")
        assert (event.action, event.source, event.scope, event.line_id) == ("opt_in", "import", "all", None)
        assert event.created_at.replace(tzinfo=UTC) == datetime(2024, 5, 1, 10, tzinfo=UTC)
        assert "list.csv row 2" in event.evidence and "web form" in event.evidence
        assert (await consent.current(session, "+14155550124", None, "transactional")).opted_out

    # The same file again: nothing duplicated; a changed name and a new tag are applied.
    async with database.session() as session:
        again = await import_csv(
            session, GOOD.replace("Bo,", "Bob,").replace("west|vip", "west|vip|new"), filename="list.csv", now=NOW
        )
    assert again.ok and (again.created, again.updated, again.tags_added, again.consent_events) == (0, 1, 1, 0)
    async with database.session() as session:
        assert await counts(session) == (3, 5, 2)


BROKEN = {
    "bad phone": (HEADER + "+1415555,Ann,,,,,\n", ["row 2, phone '+1415555': is not a valid phone number"]),
    "empty phone": (HEADER + ",Ann,,,,,\n", ["row 2, phone '': is empty"]),
    "bad consent": (
        HEADER + "4155550123,Ann,,,yes please,,\n",
        ["row 2, consent 'yes please': must be opt_in, opt_out or blank"],
    ),
    "bad date": (
        HEADER + "4155550123,Ann,,,opt_in,form,01/05/2024\n",
        ["row 2, consent_at '01/05/2024': is not an ISO 8601"],
    ),
    "future date": (
        HEADER + "4155550123,Ann,,,opt_in,form,2030-01-01\n",
        ["consent_at '2030-01-01': is in the future"],
    ),
    "opt-in without evidence": (
        HEADER + "4155550123,Ann,,,opt_in,,\n",
        ["row 2, consent_source '': an opt-in needs its source", "row 2, consent_at '': an opt-in needs"],
    ),
    "missing column": ("first_name,last_name\nAnn,Lee\n", ["missing column 'phone'"]),
    "missing consent columns": (
        "phone,consent\n4155550123,opt_out\n",
        ["missing column 'consent_source'", "missing column 'consent_at'"],
    ),
    "unknown column": (
        "phone,email\n4155550123,a@b.c\n",
        ["the header is wrong", "row 1, header 'email': unknown column"],
    ),
    "formula in names": (
        HEADER + '4155550123,=HYPERLINK("http://x"),Lee,,,,\n4155550124,Bo,@SUM(A1),+vip,,,\n',
        ["row 2, first_name '=HYPERLINK", "row 3, last_name '@SUM(A1)'", "row 3, tags '+vip'"],
    ),
    "duplicate phones": (
        HEADER + "4155550123,Ann,,,,,\n+1 415 555 0123,Ann2,,,,,\n",
        ["row 3, phone '+14155550123': the same number is on row 2"],
    ),
    "wrong cell count": (HEADER + "4155550123,Ann\n", ["row 2", "has 2 cells but the header has 7 columns"]),
    "empty file": ("", ["the file is empty"]),
    "header only": (HEADER, ["no rows"]),
    "non-UTF-8": ((HEADER + "4155550123,José,,,,,\n").encode("latin-1"), ["not UTF-8"]),
}


@pytest.mark.parametrize("case", BROKEN)
async def test_broken_files_store_nothing_and_report_every_rejected_row(database, case):
    data, expected = BROKEN[case]
    # A good row before the bad ones: all or nothing means it is not stored either.
    if isinstance(data, str) and data.startswith(HEADER) and "\n" in data[len(HEADER) :]:
        data = HEADER + "4155550199,Good,Row,,,,\n" + data[len(HEADER) :]
        expected = [
            e.replace("row 3", "row 4").replace("row 2", "row 3").replace("on row 3", "on row 3") for e in expected
        ]
    async with database.session() as session:
        report = await import_csv(session, data, filename="bad.csv", now=NOW)
    assert not report.ok
    text = report.text()
    assert "nothing was imported" in text
    for fragment in expected:
        assert fragment in text, text
    async with database.session() as session:
        assert await counts(session) == (0, 0, 0)


async def test_every_bad_row_is_listed(database):
    rows = "".join(f"555-01{i:02d},,,,maybe,,\n" for i in range(30))
    async with database.session() as session:
        report = await import_csv(session, HEADER + rows, now=NOW)
    assert report.error_count == 60 and len({e.row for e in report.errors}) == 30


async def test_file_size_limit(database):
    async with database.session() as session:
        report = await import_csv(session, HEADER + "x" * MAX_FILE_BYTES, now=NOW)
    assert not report.ok and "the limit is" in report.text()


async def test_old_opt_in_never_overrides_a_later_opt_out(database):
    async with database.session() as session:
        await consent.record(
            session,
            phone="+14155550123",
            action="opt_out",
            source="keyword",
            at=datetime(2024, 5, 10, tzinfo=UTC),
        )
    async with database.session() as session:
        report = await import_csv(session, GOOD, now=NOW)
    assert report.ok and report.consent_events == 1 and "opted out later (keyword" in report.text()
    async with database.session() as session:
        assert (await consent.current(session, "+14155550123", None, "marketing")).opted_out


async def test_export_escapes_formulas_and_includes_consent(database):
    async with database.session() as session:
        session.add(
            Contact(phone="+14155550126", first_name="=cmd|' /C calc'!A0", last_name="-2+3", number_status="landline")
        )
        session.add(Contact(phone="+14155550127", first_name="@me", last_name="\tTab"))
        session.add(Contact(phone="+14155550128", first_name="\rCR", last_name="Plain"))
        await session.flush()
        await import_csv(session, GOOD, filename="list.csv", now=NOW)
        await consent.record(session, phone="+14155550199", action="opt_out", source="keyword", line_id=None)
    async with database.session() as session:
        text = await export_csv(session)
    rows = list(csv.DictReader(io.StringIO(text)))
    by_phone = {r["phone"]: r for r in rows}
    # Phone numbers are E.164, never formulas: written as they are (finding 9 of issue 16).
    assert set(by_phone) == {"+1415555012" + d for d in "345678"} | {"+14155550199"}
    assert by_phone["+14155550126"]["first_name"] == "'=cmd|' /C calc'!A0"
    assert by_phone["+14155550126"]["last_name"] == "'-2+3"
    assert by_phone["+14155550126"]["number_status"] == "landline"
    assert by_phone["+14155550127"]["first_name"] == "'@me" and by_phone["+14155550127"]["last_name"] == "'\tTab"
    assert by_phone["+14155550128"]["first_name"] == "'\rCR"
    ann = by_phone["+14155550123"]
    assert (ann["first_name"], ann["tags"], ann["consent"], ann["consent_at"]) == (
        "Ann",
        "east;vip",
        "opt_in",
        "2024-05-01T10:00:00Z",
    )
    assert ann["consent_source"].startswith("import: imported from list.csv row 2")
    assert by_phone["+14155550124"]["consent"] == "opt_out"
    assert by_phone["+14155550125"]["consent"] == ""
    assert by_phone["+14155550199"]["consent"] == "opt_out"  # a number known only from the ledger
    assert all(
        not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for k, v in r.items() if k != "phone") for r in rows
    )


async def test_export_says_opted_out_if_any_line_opted_out(database):
    from storage.models import Line

    async with database.session() as session:
        line = Line(key="+14155550100", channel="C0SUPPORT")
        session.add(line)
        await session.flush()
        await consent.record(session, phone="+14155550123", action="opt_in", source="import", scope="all")
        await consent.record(session, phone="+14155550123", action="opt_out", source="keyword", line_id=line.id)
    async with database.session() as session:
        [row] = list(csv.DictReader(io.StringIO(await export_csv(session))))
    assert row["consent"] == "opt_out" and row["consent_source"].startswith("keyword")


async def test_export_then_import_round_trips(database):
    async with database.session() as session:
        await import_csv(session, GOOD, filename="list.csv", now=NOW)
    async with database.session() as session:
        exported = await export_csv(session)
    async with database.session() as session:
        report = await import_csv(session, exported, filename="export.csv", now=NOW)
    assert report.ok, report.text()
    async with database.session() as session:
        assert await counts(session) == (3, 4, 2)  # the same consent events: nothing duplicated
        assert await export_csv(session) != ""
