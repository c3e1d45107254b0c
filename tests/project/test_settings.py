"""Configuration: defaults, the TOML file, and bad values that stop start-up naming the key."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError, load_settings

GOOD = """
admins = ["U0ADMIN"]
[[lines]]
number = "(415) 555-0100"
channel = "C0SUPPORT"
kind = "both"
mps = 2
"""


def settings_with(tmp_path, toml: str, **env):
    path = tmp_path / "c.toml"
    path.write_text(toml)
    return load_settings({"SMS_BRIDGE_CONFIG": str(path), **env})


def test_defaults_are_local_mode_on_sqlite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.local_mode and settings.sms_provider == "simulator"
    assert settings.database_url == "sqlite+aiosqlite:///./sms-bridge.db"
    assert (settings.host, settings.port, settings.public_url) == ("127.0.0.1", 3000, "http://localhost:3000")


def test_lines_are_normalised_to_e164(tmp_path):
    settings = settings_with(tmp_path, GOOD)
    line = settings.lines[0]
    assert (line.number, line.kind, line.mps, line.sends_campaigns) == ("+14155550100", "both", 2.0, True)
    assert settings.compliance.quiet_hours == "08:00-21:00"
    assert settings.compliance.quiet_hours_by_region["US-FL"] == "08:00-20:00"


@pytest.mark.parametrize(
    "toml, key",
    [
        ('colour = "red"', "colour"),
        ('[[lines]]\nnumber = "12ab"\nchannel = "C0X"', "lines[0].number"),
        ('[[lines]]\nnumber = "+14155550100"\nchannel = "support"', "lines[0].channel"),
        ('[[lines]]\nnumber = "+14155550100"\nchannel = "C0SUP"\nkind = "bulk"', "lines[0].kind"),
        ('[[lines]]\nnumber = "+14155550100"\nchannel = "C0SUP"\nmps = 0', "lines[0].mps"),
        ('[[lines]]\nnumber = "+14155550100"\nchannel = "C0SUP"\nspeed = 1', "lines[0].speed"),
        ('[compliance]\nquiet_hours = "8-21"', "compliance.quiet_hours"),
        ("[compliance]\nfrequency_cap = 0", "compliance.frequency_cap"),
        ('admins = ["bob"]', "admins"),
        ('[teams]\nOn-Call = ["U0A"]', "teams.On-Call"),
        ("not toml [", "SMS_BRIDGE_CONFIG"),
    ],
)
def test_bad_file_values_name_the_key(tmp_path, toml, key):
    with pytest.raises(ConfigError) as error:
        settings_with(tmp_path, toml)
    assert str(error.value).startswith(key)


@pytest.mark.parametrize(
    "env, key",
    [
        ({"PORT": "seventy"}, "PORT"),
        ({"DATABASE_URL": "postgresql://x/y"}, "DATABASE_URL"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_BOT_TOKEN": "abc", "SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
        ({"SMS_PROVIDER": "nexmo"}, "SMS_PROVIDER"),
        ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_ACCOUNT_SID"),
        ({"PUBLIC_URL": "example.com"}, "PUBLIC_URL"),
    ],
)
def test_bad_environment_values_name_the_variable(tmp_path, env, key):
    with pytest.raises(ConfigError) as error:
        settings_with(tmp_path, GOOD, **env)
    assert str(error.value).startswith(key)


def test_cli_reports_a_config_error_without_a_traceback(tmp_path, capsys, monkeypatch):
    from bot.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text('[[lines]]\nnumber = "nope"\nchannel = "C0X"')
    monkeypatch.setenv("SMS_BRIDGE_CONFIG", str(bad))
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("configuration error: lines[0].number") and "Traceback" not in err


def test_reconcile_window_defaults_to_five_minutes_and_is_checked(tmp_path):
    assert settings_with(tmp_path, GOOD).reconcile_window == 300.0
    assert settings_with(tmp_path, GOOD, RECONCILE_WINDOW_SECONDS="45").reconcile_window == 45.0
    for value, reason in (("soon", "not a number of seconds"), ("1", "out of range"), ("1e9", "out of range")):
        with pytest.raises(ConfigError) as error:
            settings_with(tmp_path, GOOD, RECONCILE_WINDOW_SECONDS=value)
        assert str(error.value).startswith("RECONCILE_WINDOW_SECONDS:") and reason in str(error.value)
