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


@pytest.mark.parametrize(
    "extra, key, quoted",
    [
        ('business_hours = "Mon-Fri 9-5"', "lines[0].business_hours", "'9-5'"),
        ('business_hours = "Someday 09:00-17:00"', "lines[0].business_hours", "'Someday'"),
        ('business_hours = "Mon-Fri 17:00-09:00"', "lines[0].business_hours", "'17:00-09:00'"),
        ('business_hours = ""', "lines[0].business_hours", "''"),
        ('timezone = "Moon/Base"', "lines[0].timezone", "'Moon/Base'"),
        ("answer_within_minutes = 0", "lines[0].answer_within_minutes", "0"),
        ('answer_within_minutes = "15"', "lines[0].answer_within_minutes", "'15'"),
        ("away_text = 3", "lines[0].away_text", ""),
    ],
)
def test_bad_inbox_keys_of_a_line_stop_start_up_naming_the_key(tmp_path, extra, key, quoted):
    with pytest.raises(ConfigError) as raised:
        settings_with(tmp_path, GOOD + extra + "\n")
    assert str(raised.value).startswith(key + ":") and quoted in str(raised.value)


def test_business_hours_are_read_in_the_line_time_zone(tmp_path):
    from datetime import UTC, datetime

    toml = GOOD + 'business_hours = "Mon-Fri 09:00-17:00; Sat 10:00-14:00"\ntimezone = "America/Los_Angeles"\n'
    line = settings_with(tmp_path, toml + "answer_within_minutes = 15\n").lines[0]
    hours = line.business_hours
    assert line.answer_within_minutes == 15 and hours is not None
    assert hours.open_at(datetime(2026, 12, 7, 17, 0, tzinfo=UTC))  # Monday 09:00 in Los Angeles
    assert not hours.open_at(datetime(2026, 12, 7, 16, 59, tzinfo=UTC))
    assert hours.open_at(datetime(2026, 12, 5, 21, 30, tzinfo=UTC))  # Saturday 13:30
    assert not hours.open_at(datetime(2026, 12, 6, 20, 0, tzinfo=UTC))  # Sunday


def test_reconcile_window_defaults_to_five_minutes_and_is_checked(tmp_path):
    assert settings_with(tmp_path, GOOD).reconcile_window == 300.0
    assert settings_with(tmp_path, GOOD, RECONCILE_WINDOW_SECONDS="45").reconcile_window == 45.0
    for value, reason in (("soon", "not a number of seconds"), ("1", "out of range"), ("1e9", "out of range")):
        with pytest.raises(ConfigError) as error:
            settings_with(tmp_path, GOOD, RECONCILE_WINDOW_SECONDS=value)
        assert str(error.value).startswith("RECONCILE_WINDOW_SECONDS:") and reason in str(error.value)


TELNYX_KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="  # base64 of 32 bytes


def test_a_line_names_its_carrier_and_defaults_to_sms_provider(tmp_path):
    toml = (
        '[[lines]]\nnumber = "+14155550100"\nchannel = "C0A"\ncarrier = "telnyx"\n'
        '[[lines]]\nnumber = "+14155550101"\nchannel = "C0B"\n'
    )
    settings = settings_with(tmp_path, toml, TELNYX_API_KEY="KEY", TELNYX_PUBLIC_KEY=TELNYX_KEY)
    assert settings.sms_provider == "telnyx"  # TELNYX_API_KEY set, no Twilio account
    first, second = settings.lines
    assert settings.carrier_of(first) == "telnyx" and settings.carrier_of(second) == "telnyx"
    mixed = settings_with(tmp_path, toml, SMS_PROVIDER="simulator", TELNYX_API_KEY="KEY", TELNYX_PUBLIC_KEY=TELNYX_KEY)
    assert [mixed.carrier_of(line) for line in mixed.lines] == ["telnyx", "simulator"]
    assert mixed.carriers_used() == ["simulator", "telnyx"]


@pytest.mark.parametrize(
    "line,env,named",
    [
        ('carrier = "vonage"', {}, "lines[0].carrier"),
        ('carrier = "telnyx"', {}, "TELNYX_API_KEY"),
        ('carrier = "telnyx"', {"TELNYX_API_KEY": "KEY"}, "TELNYX_PUBLIC_KEY"),
        ('carrier = "telnyx"', {"TELNYX_API_KEY": "KEY", "TELNYX_PUBLIC_KEY": "bm90IGEga2V5"}, "TELNYX_PUBLIC_KEY"),
        ('carrier = "twilio"', {}, "TWILIO_ACCOUNT_SID"),
    ],
)
def test_a_line_s_carrier_needs_its_credentials(tmp_path, line, env, named):
    toml = f'[[lines]]\nnumber = "+14155550100"\nchannel = "C0A"\n{line}\n'
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        settings_with(tmp_path, toml, SMS_PROVIDER="simulator", **env)
