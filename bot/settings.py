"""One settings object, read from the environment (secrets, endpoints) and a TOML file (lines, people, policy).

Anything unknown or malformed stops start-up with a :class:`ConfigError` that names the key.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.business_hours import BusinessHours, parse_business_hours
from bot.paging_config import PagingConfigError, Policy, Schedule, Step, parse_policies, parse_schedules
from bot.phone import InvalidPhoneNumber, parse_e164
from bot.time_window import parse_window


class ConfigError(ValueError):
    """A configuration value is missing, unknown or malformed. The message names the key."""


LINE_KINDS = ("p2p", "a2p", "both")
CARRIERS = ("twilio", "telnyx", "simulator")  # what SMS_PROVIDER and a line's `carrier` may name
_SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,}$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class LineConfig:
    """A business number (or Twilio Messaging Service) and the Slack channel its conversations live in."""

    number: str | None
    messaging_service: str | None
    channel: str
    kind: str = "p2p"
    mps: float = 1.0
    brand: str = ""
    help_text: str = ""
    smart_encoding: bool = False
    business_hours: BusinessHours | None = None  # None: always open
    timezone: str = "UTC"
    away_text: str = ""  # sent outside business_hours (none when empty)
    answer_within_minutes: int | None = None  # an unanswered customer text is raised after this
    join_keywords: tuple[str, ...] = ()  # whole-message keywords that subscribe to marketing (upper case)
    double_opt_in: bool = False  # a join keyword counts only once the number answers YES
    carrier: str | None = None  # the carrier this line sends and receives through; None: SMS_PROVIDER

    @property
    def key(self) -> str:
        """The sender identity: the E.164 number, or the Messaging Service SID."""
        return self.number or self.messaging_service or ""

    @property
    def sends_campaigns(self) -> bool:
        return self.kind in ("a2p", "both")


@dataclass(frozen=True)
class ComplianceConfig:
    quiet_hours: str = "08:00-21:00"
    quiet_hours_by_region: Mapping[str, str] = field(
        default_factory=lambda: {"US-FL": "08:00-20:00", "US-OK": "08:00-20:00"}
    )
    frequency_cap: int = 3  # marketing messages per number per rolling 24 hours
    footer: str = "Reply STOP to opt out"


@dataclass(frozen=True)
class NotifyConfig:
    api_token_hashes: tuple[str, ...] = ()  # sha256 hex of each API bearer token
    escalation_minutes: int = 10
    escalation: Mapping[str, str] = field(default_factory=dict)  # group -> next group
    alertmanager_routes: Mapping[str, str] = field(default_factory=dict)  # receiver or label value -> group
    alertmanager_default_group: str | None = None
    default_policy: str | None = None  # the escalation policy of a page that names none
    policies: Mapping[str, Policy] = field(default_factory=dict)

    def policy(self, name: str) -> Policy | None:
        """A policy by name; `escalation:GROUP` is the one the older `escalation` table implies for GROUP."""
        if name.startswith("escalation:"):
            group = name.partition(":")[2]
            if group not in self.escalation:
                return None
            wait = self.escalation_minutes
            return Policy(name, (Step(f"group:{group}", wait), Step(f"group:{self.escalation[group]}", wait)))
        return self.policies.get(name)


@dataclass(frozen=True)
class ApiConfig:
    allow_private_callbacks: bool = False  # status callbacks to loopback/private/link-local addresses


@dataclass(frozen=True)
class Settings:
    """Everything the service needs at run time. Build it with :func:`load_settings`."""

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite+aiosqlite:///./sms-bridge.db"
    sms_provider: str = "simulator"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    telnyx_api_key: str | None = None
    telnyx_public_key: str | None = None  # base64 of the account's Ed25519 public key
    telnyx_api_url: str = "https://api.telnyx.com"
    public_url: str = "http://localhost:3000"
    host: str = "127.0.0.1"
    port: int = 3000
    media_secret: str = ""
    admins: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()
    lines: tuple[LineConfig, ...] = ()
    compliance: ComplianceConfig = field(default_factory=ComplianceConfig)
    teams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    templates: Mapping[str, str] = field(default_factory=dict)  # name -> text with {variable|fallback}
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    config_path: str | None = None
    # After a send whose outcome is unknown, how long the carrier's records are looked at before the text is
    # sent again (docs/reconciliation.md).
    reconcile_window: float = 300.0
    metrics_refresh: float = 15.0  # seconds between reads of the database's figures for /metrics

    @property
    def local_mode(self) -> bool:
        """No Slack token: run against the embedded Slack workspace emulator."""
        return not self.slack_bot_token

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    def carrier_of(self, line: LineConfig) -> str:
        """The carrier a line uses: its own `carrier`, else SMS_PROVIDER."""
        return line.carrier or self.sms_provider

    def carriers_used(self) -> list[str]:
        """Every carrier some line (or SMS_PROVIDER) names, SMS_PROVIDER first."""
        names = [self.sms_provider]
        names += [name for name in (self.carrier_of(line) for line in self.lines) if name not in names]
        return list(dict.fromkeys(names))

    def callback_url(self, path: str) -> str:
        return self.public_url.rstrip("/") + path


def hash_token(token: str) -> str:
    """How API bearer tokens are stored and compared: SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


# -- environment -----------------------------------------------------------------------------------


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    return value.strip() if value and value.strip() else None


def _port(environ: Mapping[str, str]) -> int:
    raw = _env(environ, "PORT") or "3000"
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"PORT: {raw!r} is not a TCP port number (1-65535)")
    return int(raw)


def _seconds(environ: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    value = _env(environ, name)
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a number of seconds") from None
    if not low <= seconds <= high:
        raise ConfigError(f"{name}: {value} is out of range ({low:g} to {high:g} seconds)")
    return seconds


def _url(name: str, value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ConfigError(f"{name}: {value!r} is not an http(s) URL")
    return value


def _database_url(value: str) -> str:
    if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            f"DATABASE_URL: {value!r} must use an async driver: sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    return value


# -- TOML file -------------------------------------------------------------------------------------

_TOP_KEYS = {
    "admins",
    "approvers",
    "lines",
    "compliance",
    "teams",
    "notify",
    "alertmanager",
    "api",
    "templates",
    "schedules",
}
_API_KEYS = {"allow_private_callbacks"}
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,63}$")
TEMPLATE_MAX = 1600
_LINE_KEYS = {
    "number",
    "messaging_service",
    "channel",
    "kind",
    "mps",
    "brand",
    "help_text",
    "smart_encoding",
    "join_keywords",
    "double_opt_in",
}
_LINE_KEYS |= {"business_hours", "timezone", "away_text", "answer_within_minutes", "carrier"}
# Words a line cannot take as a join keyword: they already mean something to every line.
_RESERVED_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"}
    | {"START", "UNSTOP", "YES", "HELP", "INFO"}
)
_COMPLIANCE_KEYS = {"quiet_hours", "quiet_hours_by_region", "frequency_cap", "footer"}
_NOTIFY_KEYS = {"api_tokens", "api_token_hashes", "escalation_minutes", "escalation", "default_policy", "policies"}
_ALERTMANAGER_KEYS = {"routes", "default_group"}


def _unknown(keys: Any, allowed: set[str], where: str) -> None:
    extra = sorted(set(keys) - allowed)
    if extra:
        raise ConfigError(f"{where}{extra[0]}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _users(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and _SLACK_USER.match(v) for v in value):
        raise ConfigError(f'{key}: must be a list of Slack user IDs like "U0ADMIN", got {value!r}')
    return tuple(value)


def _hhmm_range(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f'{key}: {value!r} is not a time range like "08:00-21:00"')
    try:
        parse_window(value)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    return value


def _line(raw: Any, index: int) -> LineConfig:
    where = f"lines[{index}]."
    if not isinstance(raw, dict):
        raise ConfigError(f"lines[{index}]: must be a table")
    _unknown(raw, _LINE_KEYS, where)
    number = raw.get("number")
    service = raw.get("messaging_service")
    if bool(number) == bool(service):
        raise ConfigError(f"{where}number: give exactly one of number or messaging_service")
    if number is not None:
        try:
            number = parse_e164(str(number))
        except InvalidPhoneNumber as exc:
            raise ConfigError(f"{where}number: {exc}") from None
    if service is not None and not re.match(r"^MG[0-9a-fA-F]{32}$", str(service)):
        raise ConfigError(f"{where}messaging_service: {service!r} is not a Messaging Service SID (MG + 32 hex)")
    channel = raw.get("channel")
    if not isinstance(channel, str) or not _SLACK_CHANNEL.match(channel):
        raise ConfigError(f'{where}channel: {channel!r} is not a Slack channel ID like "C0SUPPORT"')
    kind = raw.get("kind", "p2p")
    if kind not in LINE_KINDS:
        raise ConfigError(f"{where}kind: {kind!r} must be one of {', '.join(LINE_KINDS)}")
    mps = raw.get("mps", 1)
    if isinstance(mps, bool) or not isinstance(mps, (int, float)) or not 0 < mps <= 10000:
        raise ConfigError(f"{where}mps: {mps!r} must be a number of messages per second above 0")
    for text_key in ("brand", "help_text"):
        if not isinstance(raw.get(text_key, ""), str):
            raise ConfigError(f"{where}{text_key}: must be a string")
    carrier = raw.get("carrier")
    if carrier is not None and carrier not in CARRIERS:
        raise ConfigError(f"{where}carrier: {carrier!r} must be one of {', '.join(CARRIERS)}")
    if service is not None and carrier not in (None, "twilio"):
        raise ConfigError(f"{where}messaging_service: only a twilio line has a Messaging Service; give a number")
    smart = raw.get("smart_encoding", False)
    if not isinstance(smart, bool):
        raise ConfigError(f"{where}smart_encoding: must be true or false")
    inbox = _line_inbox(raw, where)
    join = raw.get("join_keywords", [])
    if not isinstance(join, list) or not all(isinstance(k, str) and k.strip() for k in join):
        raise ConfigError(f'{where}join_keywords: must be a list of words like ["JOIN"], got {join!r}')
    join_keywords = tuple(dict.fromkeys(" ".join(k.split()).upper() for k in join))
    reserved = sorted(set(join_keywords) & _RESERVED_KEYWORDS)
    if reserved:
        raise ConfigError(f"{where}join_keywords: {reserved[0]!r} is a standard keyword and cannot be a join keyword")
    double = raw.get("double_opt_in", False)
    if not isinstance(double, bool):
        raise ConfigError(f"{where}double_opt_in: must be true or false")
    return LineConfig(
        number=number,
        messaging_service=service,
        channel=channel,
        kind=kind,
        mps=float(mps),
        brand=raw.get("brand", ""),
        help_text=raw.get("help_text", ""),
        smart_encoding=smart,
        carrier=carrier,
        **inbox,
        join_keywords=join_keywords,
        double_opt_in=double,
    )


def _line_inbox(raw: dict, where: str) -> dict[str, Any]:
    """A line's business hours (in its timezone), away text and unanswered-text alert."""
    zone_name = raw.get("timezone", "UTC")
    try:
        if not isinstance(zone_name, str):
            raise ValueError
        zone = ZoneInfo(zone_name)
    except (ValueError, ZoneInfoNotFoundError):
        raise ConfigError(
            f'{where}timezone: {zone_name!r} is not an IANA time zone like "America/Los_Angeles"'
        ) from None
    hours: BusinessHours | None = None
    if "business_hours" in raw:
        try:
            hours = parse_business_hours(raw["business_hours"], zone)
        except ValueError as exc:
            raise ConfigError(f"{where}business_hours: {exc}") from None
    away = raw.get("away_text", "")
    if not isinstance(away, str) or len(away) > 1600:
        raise ConfigError(f"{where}away_text: must be a string of at most 1600 characters")
    minutes = raw.get("answer_within_minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 10080):
        raise ConfigError(f"{where}answer_within_minutes: {minutes!r} must be a whole number of minutes (1-10080)")
    return {"business_hours": hours, "timezone": zone_name, "away_text": away, "answer_within_minutes": minutes}


def _compliance(raw: Any) -> ComplianceConfig:
    if not isinstance(raw, dict):
        raise ConfigError("compliance: must be a table")
    _unknown(raw, _COMPLIANCE_KEYS, "compliance.")
    defaults = ComplianceConfig()
    quiet = _hhmm_range(raw.get("quiet_hours", defaults.quiet_hours), "compliance.quiet_hours")
    by_region = dict(defaults.quiet_hours_by_region)
    overrides = raw.get("quiet_hours_by_region", {})
    if not isinstance(overrides, dict):
        raise ConfigError('compliance.quiet_hours_by_region: must be a table like {"US-FL" = "08:00-20:00"}')
    for region, window in overrides.items():
        if not re.match(r"^[A-Z]{2}-[A-Z0-9]{1,3}$", region):
            raise ConfigError(f'compliance.quiet_hours_by_region.{region}: not an ISO 3166-2 code like "US-FL"')
        by_region[region] = _hhmm_range(window, f"compliance.quiet_hours_by_region.{region}")
    cap = raw.get("frequency_cap", defaults.frequency_cap)
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ConfigError(f"compliance.frequency_cap: {cap!r} must be a whole number of at least 1")
    footer = raw.get("footer", defaults.footer)
    if not isinstance(footer, str) or "STOP" not in footer.upper():
        raise ConfigError(f"compliance.footer: {footer!r} must be text that tells how to stop (mention STOP)")
    return ComplianceConfig(quiet_hours=quiet, quiet_hours_by_region=by_region, frequency_cap=cap, footer=footer)


def _teams(raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise ConfigError("teams: must be a table of group = [user IDs]")
    teams = {}
    for group, members in raw.items():
        if not re.match(r"^[a-z0-9][a-z0-9_-]{0,39}$", group):
            raise ConfigError(f"teams.{group}: group names are lowercase letters, digits, - and _")
        teams[group] = _users(members, f"teams.{group}")
    return teams


def _notify(
    raw: Any, alertmanager: Any, teams: Mapping[str, Any] | None = None, schedules: Mapping[str, Schedule] | None = None
) -> NotifyConfig:
    if not isinstance(raw, dict):
        raise ConfigError("notify: must be a table")
    _unknown(raw, _NOTIFY_KEYS, "notify.")
    hashes = []
    for token in raw.get("api_tokens", []):
        if not isinstance(token, str) or len(token) < 16:
            raise ConfigError("notify.api_tokens: each token must be a string of at least 16 characters")
        hashes.append(hash_token(token))
    for digest in raw.get("api_token_hashes", []):
        if not isinstance(digest, str) or not re.match(r"^[0-9a-f]{64}$", digest):
            raise ConfigError("notify.api_token_hashes: each entry must be a SHA-256 hex digest")
        hashes.append(digest)
    minutes = raw.get("escalation_minutes", 10)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
        raise ConfigError(f"notify.escalation_minutes: {minutes!r} must be a whole number of at least 1")
    escalation = raw.get("escalation", {})
    if not isinstance(escalation, dict) or not all(isinstance(v, str) for v in escalation.values()):
        raise ConfigError('notify.escalation: must be a table of group = "next group"')
    if not isinstance(alertmanager, dict):
        raise ConfigError("alertmanager: must be a table")
    _unknown(alertmanager, _ALERTMANAGER_KEYS, "alertmanager.")
    routes = alertmanager.get("routes", {})
    if not isinstance(routes, dict) or not all(isinstance(v, str) for v in routes.values()):
        raise ConfigError('alertmanager.routes: must be a table of receiver-or-label = "group"')
    default_group = alertmanager.get("default_group")
    if default_group is not None and not isinstance(default_group, str):
        raise ConfigError("alertmanager.default_group: must be a group name")
    try:
        policies = parse_policies(raw.get("policies", {}), groups=teams or {}, schedules=schedules or {})
    except PagingConfigError as exc:
        raise ConfigError(str(exc)) from None
    default_policy = raw.get("default_policy")
    if default_policy is not None and (not isinstance(default_policy, str) or default_policy not in policies):
        raise ConfigError(f"notify.default_policy: policy {default_policy!r} is not defined under [notify.policies]")
    return NotifyConfig(
        default_policy=default_policy,
        policies=policies,
        api_token_hashes=tuple(hashes),
        escalation_minutes=minutes,
        escalation=escalation,
        alertmanager_routes=routes,
        alertmanager_default_group=default_group,
    )


def _api(raw: Any) -> ApiConfig:
    if not isinstance(raw, dict):
        raise ConfigError("api: must be a table")
    _unknown(raw, _API_KEYS, "api.")
    allow = raw.get("allow_private_callbacks", False)
    if not isinstance(allow, bool):
        raise ConfigError("api.allow_private_callbacks: must be true or false")
    return ApiConfig(allow_private_callbacks=allow)


def _templates(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ConfigError('templates: must be a table of name = "text"')
    templates = {}
    for name, text in raw.items():
        if not _TEMPLATE_NAME.match(name):
            raise ConfigError(f"templates.{name}: names are lowercase letters, digits, - and _ (at most 64)")
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"templates.{name}: must be a non-empty string")
        if len(text) > TEMPLATE_MAX:
            raise ConfigError(f"templates.{name}: is {len(text)} characters; at most {TEMPLATE_MAX}")
        templates[name] = text
    return templates


def parse_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the TOML document; return the Settings fields it defines."""
    _unknown(data, _TOP_KEYS, "")
    lines_raw = data.get("lines", [])
    if not isinstance(lines_raw, list):
        raise ConfigError("lines: must be an array of tables ([[lines]])")
    lines = tuple(_line(raw, i) for i, raw in enumerate(lines_raw))
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if line.key in seen:
            raise ConfigError(f"lines[{i}].number: {line.key} is configured twice")
        seen.add(line.key)
    teams = _teams(data.get("teams", {}))
    try:
        schedules = parse_schedules(data.get("schedules", []))
    except PagingConfigError as exc:
        raise ConfigError(str(exc)) from None
    notify = _notify(data.get("notify", {}), data.get("alertmanager", {}), teams, schedules)
    for group in list(notify.escalation) + list(notify.escalation.values()) + list(notify.alertmanager_routes.values()):
        if group not in teams:
            raise ConfigError(f"notify/alertmanager: group {group!r} is not defined under [teams]")
    return {
        "admins": _users(data.get("admins", []), "admins"),
        "approvers": _users(data.get("approvers", []), "approvers"),
        "lines": lines,
        "compliance": _compliance(data.get("compliance", {})),
        "teams": teams,
        "notify": notify,
        "api": _api(data.get("api", {})),
        "templates": _templates(data.get("templates", {})),
        "schedules": schedules,
    }


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"SMS_BRIDGE_CONFIG: cannot read {str(path)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"SMS_BRIDGE_CONFIG: {str(path)!r} is not valid TOML: {exc}") from None


# Local mode with no config file: one demo line and people the embedded workspace knows, so that
# `sms-bridge serve` shows the whole product at once.
LOCAL_DEMO_CONFIG = """
admins = ["U0ADMIN"]
approvers = ["U0LEAD"]
[[lines]]
number = "+14155550100"
channel = "C0SUPPORT"
kind = "both"
mps = 5
brand = "Acme"
help_text = "Acme: help@acme.example. Msg&data rates may apply. Reply STOP to opt out."
timezone = "America/Los_Angeles"
answer_within_minutes = 15
join_keywords = ["JOIN"]
double_opt_in = true
[teams]
oncall = ["U0ALICE", "U0BOB"]
"""


def _is_ed25519_key(value: str) -> bool:
    """Whether `value` is base64 of 32 bytes (an Ed25519 public key)."""
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except ValueError:
        return False


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `environ` (default: the process environment) and the TOML file it points at."""
    env = os.environ if environ is None else environ
    config_path = _env(env, "SMS_BRIDGE_CONFIG")
    file_fields: dict[str, Any] = {}
    if config_path:
        file_fields = parse_config(_read_toml(Path(config_path)))
    elif Path("sms-bridge.toml").exists():
        config_path = "sms-bridge.toml"
        file_fields = parse_config(_read_toml(Path(config_path)))

    bot_token = _env(env, "SLACK_BOT_TOKEN")
    if not bot_token and not config_path:
        file_fields = parse_config(tomllib.loads(LOCAL_DEMO_CONFIG))
        config_path = "(built-in local demo)"
    signing_secret = _env(env, "SLACK_SIGNING_SECRET")
    app_token = _env(env, "SLACK_APP_TOKEN")
    if bot_token and not bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN: a bot token starts with xoxb-")
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN: an app-level token starts with xapp-")
    if bot_token and not signing_secret and not app_token:
        raise ConfigError(
            "SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN unless SLACK_APP_TOKEN (Socket Mode) is set"
        )

    account_sid = _env(env, "TWILIO_ACCOUNT_SID")
    auth_token = _env(env, "TWILIO_AUTH_TOKEN")
    telnyx_key = _env(env, "TELNYX_API_KEY")
    telnyx_public_key = _env(env, "TELNYX_PUBLIC_KEY")
    provider = _env(env, "SMS_PROVIDER") or ("twilio" if account_sid else "telnyx" if telnyx_key else "simulator")
    if provider not in CARRIERS:
        raise ConfigError(f"SMS_PROVIDER: {provider!r} must be one of {', '.join(CARRIERS)}")
    used = {provider} | {line.carrier for line in file_fields.get("lines", ()) if line.carrier}
    if "twilio" in used:
        if not account_sid or not re.match(r"^AC[0-9a-fA-F]{32}$", account_sid):
            raise ConfigError("TWILIO_ACCOUNT_SID: required for a twilio line, AC followed by 32 hex digits")
        if not auth_token:
            raise ConfigError("TWILIO_AUTH_TOKEN: required for a twilio line")
    if "telnyx" in used:
        if not telnyx_key:
            raise ConfigError("TELNYX_API_KEY: required for a telnyx line")
        if not telnyx_public_key or not _is_ed25519_key(telnyx_public_key):
            raise ConfigError(
                "TELNYX_PUBLIC_KEY: required for a telnyx line, the account's Ed25519 public key (base64)"
            )

    port = _port(env)
    host = _env(env, "HOST") or "127.0.0.1"
    public_url = _url("PUBLIC_URL", _env(env, "PUBLIC_URL") or f"http://localhost:{port}").rstrip("/")
    slack_api_url = _url("SLACK_API_URL", _env(env, "SLACK_API_URL") or "https://slack.com/api/")
    if not slack_api_url.endswith("/"):
        slack_api_url += "/"
    # Media links are signed with a key derived from secrets the operator already keeps.
    media_secret = hashlib.sha256(
        ("media:" + (signing_secret or "") + (auth_token or "") + (telnyx_key or "") + (bot_token or "local")).encode()
    ).hexdigest()

    return Settings(
        slack_bot_token=bot_token,
        slack_signing_secret=signing_secret,
        slack_app_token=app_token,
        slack_api_url=slack_api_url,
        database_url=_database_url(_env(env, "DATABASE_URL") or "sqlite+aiosqlite:///./sms-bridge.db"),
        sms_provider=provider,
        twilio_account_sid=account_sid,
        twilio_auth_token=auth_token,
        twilio_api_url=_url("TWILIO_API_URL", _env(env, "TWILIO_API_URL") or "https://api.twilio.com").rstrip("/"),
        telnyx_api_key=telnyx_key,
        telnyx_public_key=telnyx_public_key,
        telnyx_api_url=_url("TELNYX_API_URL", _env(env, "TELNYX_API_URL") or "https://api.telnyx.com").rstrip("/"),
        public_url=public_url,
        host=host,
        port=port,
        media_secret=media_secret,
        config_path=config_path,
        reconcile_window=_seconds(env, "RECONCILE_WINDOW_SECONDS", 300.0, low=5, high=86400),
        metrics_refresh=_seconds(env, "METRICS_REFRESH_SECONDS", 15.0, low=1, high=3600),
        **file_fields,
    )
