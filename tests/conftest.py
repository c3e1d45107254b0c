"""Fixtures shared by the integration tests: emulators, databases (SQLite and PostgreSQL), the bridge."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.support import run_report, twilio_openapi
from tests.support.bridge import Bridge
from tests.support.postgres import create_database_or_skip, drop_database

PG_TEST_DB = f"sms_bridge_test_{os.getpid()}"
_pg_ready: dict[str, str] = {}
_sqlite_template: list[Path] = []


async def _migrated_sqlite_file() -> Path:
    """A SQLite database migrated to head once per test session; each test starts from a copy of it, as each
    PostgreSQL test starts from the session's migrated database, emptied."""
    if not _sqlite_template:
        path = Path(tempfile.mkdtemp(prefix="sms-bridge-template-")) / "bridge.db"
        db = Database(f"sqlite+aiosqlite:///{path}")
        await upgrade(db.engine)
        await db.dispose()
        _sqlite_template.append(path)
    return _sqlite_template[0]


async def _prepare_postgres() -> str:
    """A database of our own for this test session, created once, migrated once."""
    if "url" not in _pg_ready:
        url = await create_database_or_skip(PG_TEST_DB)
        db = Database(url)
        await upgrade(db.engine)
        await db.dispose()
        _pg_ready["url"] = url
    return _pg_ready["url"]


# Empties the tables that hold rows and rewinds every sequence, in one round trip: TRUNCATE costs a new file
# per table, and most tests touch few of them.
_EMPTY_DATABASE = """
DO $$
DECLARE
    name text;
    found boolean;
    filled text[] := '{}';
BEGIN
    FOREACH name IN ARRAY string_to_array('{tables}', ',') LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', name) INTO found;
        IF found THEN
            filled := filled || quote_ident(name);
        END IF;
    END LOOP;
    IF array_length(filled, 1) > 0 THEN
        EXECUTE 'TRUNCATE ' || array_to_string(filled, ', ') || ' CASCADE';
    END IF;
    PERFORM setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'S' AND n.nspname = current_schema();
END
$$;
"""


async def _truncate(url: str) -> None:
    db = Database(url)
    tables = ",".join(t.name for t in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql(_EMPTY_DATABASE.replace("{tables}", tables))
    await db.dispose()


def pytest_terminal_summary(terminalreporter) -> None:
    run_report.write_summary(terminalreporter)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    run_report.receive_from_worker(node)


def pytest_sessionfinish(session, exitstatus):
    run_report.send_from_worker(session.config)
    if "url" in _pg_ready:
        asyncio.run(drop_database(PG_TEST_DB))
    if _sqlite_template:
        shutil.rmtree(_sqlite_template[0].parent, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request, tmp_path):
    """Every storage test runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        shutil.copyfile(await _migrated_sqlite_file(), tmp_path / "bridge.db")
        yield f"sqlite+aiosqlite:///{tmp_path}/bridge.db"
        return
    url = await _prepare_postgres()
    await _truncate(url)
    yield url


@pytest.fixture
async def database(database_url):
    db = Database(database_url)
    await upgrade(db.engine)
    yield db
    await db.dispose()


@pytest.fixture
async def slack():
    emulator = SlackEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()
    assert not emulator.server_errors, emulator.server_errors
    assert not emulator.block_kit_violations, "Slack would refuse these:\n" + "\n".join(emulator.block_kit_violations)


@pytest.fixture
async def twilio():
    emulator = TwilioEmulator()
    violations = twilio_openapi.watch(emulator)
    await emulator.start()
    yield emulator
    await emulator.stop()
    assert not emulator.server_errors, emulator.server_errors
    assert not violations, "not as Twilio's API description says:\n" + "\n".join(violations)


@pytest.fixture
async def make_bridge(database_url, slack, twilio, tmp_path):
    """Factory: start a bridge (several options possible); all are stopped at the end of the test."""
    started: list[Bridge] = []

    async def make(**options) -> Bridge:
        options.setdefault("outbox_options", {"post_interval": 0.0})
        bridge = Bridge(database_url=database_url, slack=slack, twilio=twilio, tmp_path=tmp_path, **options)
        started.append(bridge)
        return await bridge.start()

    yield make
    for bridge in started:
        await bridge.stop()


@pytest.fixture
async def bridge(make_bridge):
    return await make_bridge()
