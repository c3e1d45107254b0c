"""`/sms contacts import` (modal, file download, report as an ephemeral) and the `contacts` CLI."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.cli import main
from handlers.slack import contacts_commands
from storage.models import Contact
from tests.support.bridge import ADMIN, AGENT, CHANNEL

GOOD = b"phone,first_name,tags\n4155550123,Ann,vip\n4155550124,Bo,\n"
BAD = b"phone,first_name,tags\n4155550123,Ann,vip\nnope,=1+1,\n"


async def submit(bridge, slack, view: dict, user: str, content: bytes, name: str = "people.csv"):
    file = slack.add_file(name=name, mimetype="text/csv", content=content, user=user)
    state = {
        "values": {contacts_commands.BLOCK_ID: {contacts_commands.ACTION_ID: {"type": "file_input", "files": [file]}}}
    }
    return await slack.send_action(
        bridge.events_url,
        {
            "type": "view_submission",
            "user": {"id": user},
            "trigger_id": "1.2.3",
            "view": {**view, "state": state},
        },
    )


async def contacts(bridge) -> int:
    async with bridge.services.db.session() as session:
        return await session.scalar(select(func.count(Contact.id)))


async def test_import_through_the_modal(bridge, slack):
    status, body = await slack.send_command(
        bridge.events_url, text="contacts import", user_id=ADMIN, channel_id=CHANNEL
    )
    assert status == 200
    [view] = slack.views.values()
    assert view["callback_id"] == "contacts_import"
    element = view["blocks"][1]["element"]
    assert element["type"] == "file_input" and element["filetypes"] == ["csv"]

    status, body = await submit(bridge, slack, view, ADMIN, GOOD)
    assert status == 200
    await slack.wait_for(lambda: slack.ephemerals, what="the import report")
    [report] = slack.ephemerals
    assert report["user"] == ADMIN and report["channel"] == CHANNEL
    assert report["text"].startswith(":white_check_mark: people.csv: imported 2 rows: 2 new contacts")
    assert await contacts(bridge) == 2

    await submit(bridge, slack, view, ADMIN, BAD, name="bad.csv")
    await slack.wait_for(lambda: len(slack.ephemerals) == 2)
    text = slack.ephemerals[1]["text"]
    assert text.startswith(":x: bad.csv: 1 row rejected; nothing was imported.")
    assert "row 3, phone 'nope'" in text and "row 3, first_name '=1+1'" in text
    assert await contacts(bridge) == 2


async def test_a_member_cannot_import(bridge, slack):
    status, body = await slack.send_command(
        bridge.events_url, text="contacts import", user_id=AGENT, channel_id=CHANNEL
    )
    assert "Only admins" in json.loads(body)["text"] and slack.views == {}
    # Even a hand-made submission is refused.
    await submit(bridge, slack, contacts_commands.import_modal(CHANNEL), AGENT, GOOD)
    await slack.wait_for(lambda: slack.ephemerals)
    assert "Only admins" in slack.ephemerals[0]["text"]
    assert await contacts(bridge) == 0


def test_cli_import_and_export(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "TWILIO_ACCOUNT_SID", "SMS_BRIDGE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    (tmp_path / "bad.csv").write_bytes(BAD)
    (tmp_path / "good.csv").write_bytes(GOOD)

    assert main(["contacts", "import", "bad.csv"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "nothing was imported" in out.err and "row 3, phone 'nope'" in out.err

    assert main(["contacts", "import", "missing.csv"]) == 2
    assert "cannot read missing.csv" in capsys.readouterr().err

    assert main(["contacts", "import", "good.csv"]) == 0
    assert "good.csv: imported 2 rows: 2 new contacts" in capsys.readouterr().out

    assert main(["contacts", "export"]) == 0
    exported = capsys.readouterr().out.splitlines()
    assert exported[0] == "phone,first_name,last_name,tags,consent,consent_source,consent_at,number_status"
    assert exported[1] == "+14155550123,Ann,,vip,,,,ok"  # an E.164 number is no formula: written as it is


def test_cli_consent_export(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "TWILIO_ACCOUNT_SID", "SMS_BRIDGE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    (tmp_path / "consent.csv").write_bytes(
        b"phone,consent,consent_source,consent_at\n4155550123,opt_in,paper form,2026-05-01T10:00:00Z\n"
    )
    assert main(["contacts", "import", "consent.csv"]) == 0
    capsys.readouterr()
    assert main(["consent", "export", "(415) 555-0123"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("event_id,recorded_at,phone,line,action,scope,source,actor,evidence,message_sid")
    assert len(rows) == 2 and ",+14155550123,all lines,opt_in,all,import,," in rows[1] and "paper form" in rows[1]
    assert main(["consent", "export", "not-a-number"]) == 2
    assert "not-a-number" in capsys.readouterr().err
