"""The `sms-bridge` command line.

Each subcommand imports what it needs when it runs (`sms-bridge segments` never loads the app or the database).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys

import aiohttp
from aiohttp import web

from bot.settings import ConfigError, load_settings


def _serve(args: argparse.Namespace) -> int:
    from bot.app import build_app
    from bot.logs import setup_logging
    from storage.db import DatabaseInUse

    settings = load_settings()
    setup_logging(os.environ.get("LOG_LEVEL", "INFO"))
    mode = "local mode (embedded Slack workspace, simulator carrier)" if settings.local_mode else "Slack"
    print(f"sms-bridge listening on http://{settings.host}:{settings.port} — {mode}", flush=True)
    if settings.local_mode:
        print(f"  see the Slack side: {settings.public_url}/_local/slack/state", flush=True)
    try:
        web.run_app(build_app(settings), host=settings.host, port=settings.port, print=None, access_log=None)
    except DatabaseInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from storage.db import Database
    from storage.migrate import upgrade

    async def run() -> None:
        db = Database(load_settings().database_url)
        try:
            await upgrade(db.engine)
        finally:
            await db.dispose()

    asyncio.run(run())
    print("database is at the newest migration")
    return 0


def _segments(args: argparse.Namespace) -> int:
    from bot.compliance.segments import analyze

    print(json.dumps(analyze(args.text, smart_encoding=args.smart).as_dict()))
    return 0


def _simulate_inbound(args: argparse.Namespace) -> int:
    """Post a signed inbound-SMS webhook to the running server, exactly as Twilio would."""
    from twilio.request_validator import RequestValidator

    from bot.carriers.simulator import SIMULATOR_ACCOUNT_SID, SIMULATOR_AUTH_TOKEN
    from bot.phone import InvalidPhoneNumber, parse_e164

    settings = load_settings()
    try:
        sender, to = parse_e164(args.from_), parse_e164(args.to)
    except InvalidPhoneNumber as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    url = settings.callback_url("/sms/twilio/inbound")
    sid = "SM" + secrets.token_hex(16)
    params = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "AccountSid": SIMULATOR_ACCOUNT_SID,
        "From": sender,
        "To": to,
        "Body": args.text,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    token = settings.twilio_auth_token if settings.sms_provider == "twilio" else SIMULATOR_AUTH_TOKEN
    signature = RequestValidator(token).compute_signature(url, params)

    async def post() -> tuple[int, str]:
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=params, headers={"X-Twilio-Signature": signature}) as resp:
                return resp.status, await resp.text()

    try:
        status, body = asyncio.run(post())
    except aiohttp.ClientError as exc:
        print(f"error: cannot reach the server at {url}: {exc}. Is `sms-bridge serve` running?", file=sys.stderr)
        return 1
    print(f"{status} {sid}")
    return 0 if status == 200 else 1


def _contacts_import(args: argparse.Namespace) -> int:
    """Import a contacts CSV: all or nothing; the report goes to stderr with exit code 2 on rejection."""
    from bot.contacts import import_csv
    from bot.contacts.csv_io import MAX_FILE_BYTES
    from storage.db import Database
    from storage.migrate import upgrade

    settings = load_settings()
    try:
        with open(args.file, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2

    async def run():
        db = Database(settings.database_url)
        try:
            await upgrade(db.engine)
            async with db.session() as session:
                return await import_csv(session, data, filename=os.path.basename(args.file))
        finally:
            await db.dispose()

    report = asyncio.run(run())
    if not report.ok:
        print(report.text(), file=sys.stderr)
        return 2
    print(report.text())
    return 0


def _contacts_export(args: argparse.Namespace) -> int:
    """Print every contact with its consent state as CSV (formula-looking cells escaped)."""
    from bot.contacts import export_csv
    from storage.db import Database
    from storage.migrate import upgrade

    settings = load_settings()

    async def run() -> str:
        db = Database(settings.database_url)
        try:
            await upgrade(db.engine)
            async with db.session() as session:
                return await export_csv(session)
        finally:
            await db.dispose()

    sys.stdout.write(asyncio.run(run()))
    sys.stdout.flush()
    return 0


def _with_database(work):
    """Run `work(session)` in one transaction on the configured database (migrated first)."""
    from storage.db import Database
    from storage.migrate import upgrade

    settings = load_settings()

    async def run():
        db = Database(settings.database_url)
        try:
            await upgrade(db.engine)
            async with db.session() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


def _api_key_create(args: argparse.Namespace) -> int:
    """Make a key; its token and callback secret are printed this once and never stored as they are."""
    from bot.api import keys

    try:
        scopes = keys.parse_scopes(args.scopes)
        created = _with_database(lambda session: keys.create(session, args.name, scopes))
    except keys.ApiKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"API key {created.name!r} created with scopes {','.join(created.scopes)}.")
    print("Keep these now; they are not shown again:")
    print(f"  token:           {created.token}")
    print(f"  callback secret: {created.callback_secret}")
    return 0


def _api_key_list(args: argparse.Namespace) -> int:
    from bot.api import keys

    rows = _with_database(keys.list_keys)
    if not rows:
        print("no API keys (make one with: sms-bridge api-key create NAME --scopes messages,verify,notify)")
        return 0

    def when(value) -> str:
        return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"

    print(f"{'NAME':<24} {'SCOPES':<24} {'CREATED':<21} {'LAST USED':<21} STATE")
    for row in rows:
        state = f"revoked {when(row.revoked_at)}" if row.revoked_at else "active"
        print(f"{row.name:<24} {row.scopes:<24} {when(row.created_at):<21} {when(row.last_used_at):<21} {state}")
    return 0


def _api_key_revoke(args: argparse.Namespace) -> int:
    from bot.api import keys
    from storage.models import utcnow

    try:
        _with_database(lambda session: keys.revoke(session, args.name, utcnow()))
    except keys.ApiKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"API key {args.name!r} is revoked: requests with it are refused from now on.")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="sms-bridge", description="Business texting run from Slack.")
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the service (applies pending migrations first)").set_defaults(func=_serve)
    db = commands.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply pending migrations").set_defaults(func=_db_upgrade)
    segments = commands.add_parser("segments", help="print encoding, segments and characters of TEXT as JSON")
    segments.add_argument("text")
    segments.add_argument("--smart", action="store_true", help="apply smart encoding first")
    segments.set_defaults(func=_segments)
    contacts = commands.add_parser("contacts", help="import or export contacts as CSV")
    contacts_commands = contacts.add_subparsers(dest="contacts_command", required=True)
    contacts_import = contacts_commands.add_parser(
        "import",
        help="import FILE.csv (phone, first_name, last_name, tags, consent, consent_source, consent_at); "
        "all or nothing: a rejected file prints its report and exits 2",
    )
    contacts_import.add_argument("file", metavar="FILE.csv")
    contacts_import.set_defaults(func=_contacts_import)
    contacts_commands.add_parser(
        "export", help="print every contact and its consent state as CSV to stdout"
    ).set_defaults(func=_contacts_export)
    api_key = commands.add_parser("api-key", help="make, list and revoke keys for the HTTP API")
    api_key_commands = api_key.add_subparsers(dest="api_key_command", required=True)
    create = api_key_commands.add_parser("create", help="make a key; prints its token and callback secret once")
    create.add_argument("name", metavar="NAME")
    create.add_argument(
        "--scopes", required=True, help="comma-separated: messages, verify, notify (e.g. messages,verify)"
    )
    create.set_defaults(func=_api_key_create)
    api_key_commands.add_parser("list", help="names, scopes, created, last used (never the token)").set_defaults(
        func=_api_key_list
    )
    revoke = api_key_commands.add_parser("revoke", help="refuse every request made with the key NAME from now on")
    revoke.add_argument("name", metavar="NAME")
    revoke.set_defaults(func=_api_key_revoke)
    simulate = commands.add_parser("simulate", help="send test traffic to the running server")
    sim = simulate.add_subparsers(dest="simulate_command", required=True)
    inbound = sim.add_parser("inbound", help="a customer texts a line")
    inbound.add_argument("--from", dest="from_", required=True, help="the customer's number")
    inbound.add_argument("--to", required=True, help="the line's number")
    inbound.add_argument("text")
    inbound.set_defaults(func=_simulate_inbound)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
