"""Test databases of our own on the local PostgreSQL server."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import asyncpg
import pytest

PG_ADMIN_DSN = os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def create_database(name: str) -> str:
    """Drop and create database `name`; return its SQLAlchemy async URL."""
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    host = PG_ADMIN_DSN.split("@", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://postgres@{host}/{name}"


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def create_database_or_skip(name: str) -> str:
    """`create_database`, or skip the test when no server is reachable (fail instead with REQUIRE_POSTGRES=1)."""
    try:
        return await create_database(name)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_DSN} ({exc}); set REQUIRE_POSTGRES=1 to fail instead")


class PrivateCluster:
    """A PostgreSQL cluster of a test's own (Debian's pg_createcluster), on its own port, so the test may stop
    and start it without touching the shared server. Needs root (or the postgres user), as CI runs."""

    def __init__(self, name: str, port: int) -> None:
        self.name, self.port = name, port
        self.version = _debian_version()

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def _run(self, *args: str) -> None:
        process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({process.returncode}): {output.decode(errors='replace')}")

    async def create(self) -> None:
        await self._run("pg_createcluster", self.version, self.name, "-p", str(self.port), "--", "--auth=trust")

    async def start(self) -> None:
        await self._run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "start")

    async def stop(self) -> None:
        """Fast shutdown: open sessions are ended, as when an operator (or a failover) stops the server."""
        await self._run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "stop")

    async def drop(self) -> None:
        await self._run("pg_dropcluster", "--stop", self.version, self.name)

    async def create_database(self, name: str) -> str:
        """Create database `name` in this cluster; return its SQLAlchemy async URL."""
        conn = await asyncpg.connect(self.admin_dsn, timeout=5)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"


def _debian_version() -> str | None:
    """The installed PostgreSQL major version, as Debian's cluster tools name it (newest if several)."""
    root = Path("/etc/postgresql")
    versions = sorted(int(p.name) for p in root.iterdir() if p.name.isdigit()) if root.is_dir() else []
    return str(versions[-1]) if versions else None


def private_clusters_or_skip() -> None:
    """Skip unless Debian's cluster tools and a PostgreSQL installation are here.

    With REQUIRE_POSTGRES=1 it fails instead."""
    missing = [tool for tool in ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster") if shutil.which(tool) is None]
    if _debian_version() is None:
        missing.append("/etc/postgresql/<version>")
    if not missing:
        return
    message = (
        f"a private PostgreSQL cluster needs Debian's postgresql-common and a server ({', '.join(missing)} missing)"
    )
    if os.environ.get("REQUIRE_POSTGRES"):
        raise RuntimeError(message)
    pytest.skip(message + "; set REQUIRE_POSTGRES=1 to fail instead")
