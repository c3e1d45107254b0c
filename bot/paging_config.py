"""The paging keys of the config file: `[notify] default_policy`, `[notify.policies.NAME]` and `[[schedules]]`.

Read by `bot.settings`; every check names the key at fault (a ConfigError stops start-up). A policy step that
names another policy (`notify = "policy:NAME"`) is replaced by that policy's steps here, so the rest of the
service only ever sees flat lists of steps; a policy that reaches itself that way is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ROTATIONS = ("daily", "weekly")
ROTATION_START = date(2024, 1, 1)  # a Monday: rotations count handoffs from here unless `start` says otherwise
_STEP_KEYS = {"notify", "wait_minutes"}
_POLICY_KEYS = {"steps", "repeat"}
_SCHEDULE_KEYS = {"name", "members", "rotation", "handoff", "timezone", "start"}


class PagingConfigError(ValueError):
    """A paging key is malformed; the message names it (bot.settings turns it into a ConfigError)."""


@dataclass(frozen=True)
class Step:
    """Page `notify` (group:NAME, schedule:NAME, a Slack user ID or an E.164 number), then wait."""

    notify: str
    wait_minutes: int


@dataclass(frozen=True)
class Policy:
    name: str
    steps: tuple[Step, ...]
    repeat: int = 0  # run the steps again this many times while nobody acknowledges

    @property
    def total_steps(self) -> int:
        return len(self.steps) * (self.repeat + 1)

    def step(self, index: int) -> Step:
        """The step at `index` counting repeats (0-based)."""
        return self.steps[index % len(self.steps)]


@dataclass(frozen=True)
class Schedule:
    name: str
    members: tuple[str, ...]  # Slack user IDs, in rotation order
    rotation: str  # daily | weekly
    handoff_time: time
    handoff_day: int | None  # 0 = Monday; None for daily rotations
    timezone: str
    start: date = ROTATION_START

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def handoff_text(self) -> str:
        day = f"{DAYS[self.handoff_day].title()} " if self.handoff_day is not None else ""
        return f"{day}{self.handoff_time:%H:%M}"


def parse_schedules(raw: Any) -> dict[str, Schedule]:
    """`[[schedules]]`: each a name, members in rotation order, daily|weekly, a handoff, a time zone."""
    if not isinstance(raw, list):
        raise PagingConfigError("schedules: must be an array of tables ([[schedules]])")
    schedules: dict[str, Schedule] = {}
    for index, item in enumerate(raw):
        where = f"schedules[{index}]"
        if not isinstance(item, dict):
            raise PagingConfigError(f"{where}: must be a table")
        extra = sorted(set(item) - _SCHEDULE_KEYS)
        if extra:
            raise PagingConfigError(f"{where}.{extra[0]}: unknown key (allowed: {', '.join(sorted(_SCHEDULE_KEYS))})")
        name = item.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise PagingConfigError(f"{where}.name: {name!r} must be a name of lowercase letters, digits, - and _")
        if name in schedules:
            raise PagingConfigError(f"{where}.name: schedule {name!r} is defined twice")
        where = f"schedules[{index}] ({name})"
        members = item.get("members")
        if not isinstance(members, list) or not all(isinstance(m, str) and _USER.match(m) for m in members):
            raise PagingConfigError(f'{where}.members: must be a list of Slack user IDs like "U0ALICE"')
        if not members:
            raise PagingConfigError(f"{where}.members: the rotation is empty; name at least one person")
        rotation = item.get("rotation", "weekly")
        if rotation not in ROTATIONS:
            raise PagingConfigError(f"{where}.rotation: {rotation!r} must be daily or weekly")
        zone_name = item.get("timezone")
        if not isinstance(zone_name, str):
            raise PagingConfigError(f'{where}.timezone: required, an IANA time zone like "America/New_York"')
        try:
            ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise PagingConfigError(f"{where}.timezone: {zone_name!r} is not an IANA time zone") from None
        day, at = _handoff(item.get("handoff", "Mon 09:00" if rotation == "weekly" else "09:00"), rotation, where)
        start = item.get("start", ROTATION_START)
        if isinstance(start, str):
            try:
                start = date.fromisoformat(start)
            except ValueError:
                start = None
        if not isinstance(start, date) or hasattr(start, "hour"):
            raise PagingConfigError(f"{where}.start: must be a date like 2026-01-05")
        schedules[name] = Schedule(name, tuple(members), rotation, at, day, zone_name, start)
    return schedules


def _handoff(value: Any, rotation: str, where: str) -> tuple[int | None, time]:
    example = '"Mon 09:00"' if rotation == "weekly" else '"09:00"'
    text = value.strip().lower() if isinstance(value, str) else ""
    match = re.fullmatch(r"(?:([a-z]{3})[a-z]*\s+)?(\d{1,2}):(\d{2})", text)
    if not match or int(match.group(2)) > 23 or int(match.group(3)) > 59:
        raise PagingConfigError(f"{where}.handoff: {value!r} is not a handoff like {example}")
    day_text = match.group(1)
    if rotation == "weekly":
        if day_text not in DAYS:
            raise PagingConfigError(f"{where}.handoff: {value!r} needs a weekday for a weekly rotation, like {example}")
        day: int | None = DAYS.index(day_text)
    else:
        if day_text is not None:
            raise PagingConfigError(f"{where}.handoff: a daily rotation hands off at a time of day, like {example}")
        day = None
    return day, time(int(match.group(2)), int(match.group(3)))


def parse_policies(raw: Any, *, groups: Mapping[str, Any], schedules: Mapping[str, Schedule]) -> dict[str, Policy]:
    """`[notify.policies.NAME]`: ordered steps and `repeat`; references to policies are expanded in place."""
    if not isinstance(raw, dict):
        raise PagingConfigError("notify.policies: must be a table of [notify.policies.NAME] tables")
    declared: dict[str, tuple[list[tuple[str, int | None]], int]] = {}
    for name, body in raw.items():
        where = f"notify.policies.{name}"
        if not NAME.match(name):
            raise PagingConfigError(f"{where}: policy names are lowercase letters, digits, - and _")
        if not isinstance(body, dict):
            raise PagingConfigError(f"{where}: must be a table with steps and repeat")
        extra = sorted(set(body) - _POLICY_KEYS)
        if extra:
            raise PagingConfigError(f"{where}.{extra[0]}: unknown key (allowed: {', '.join(sorted(_POLICY_KEYS))})")
        steps_raw = body.get("steps")
        if not isinstance(steps_raw, list) or not steps_raw:
            raise PagingConfigError(
                f'{where}.steps: must be a non-empty list like [{{ notify = "group:oncall", wait_minutes = 5 }}]'
            )
        repeat = body.get("repeat", 0)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 0 <= repeat <= 20:
            raise PagingConfigError(f"{where}.repeat: {repeat!r} must be a whole number from 0 to 20")
        steps: list[tuple[str, int | None]] = []
        for i, step in enumerate(steps_raw):
            at = f"{where}.steps[{i}]"
            if not isinstance(step, dict):
                raise PagingConfigError(f'{at}: must be a table like {{ notify = "group:oncall", wait_minutes = 5 }}')
            extra = sorted(set(step) - _STEP_KEYS)
            if extra:
                raise PagingConfigError(f"{at}.{extra[0]}: unknown key (allowed: notify, wait_minutes)")
            target = step.get("notify")
            if not isinstance(target, str) or not target.strip():
                raise PagingConfigError(f"{at}.notify: required: group:NAME, schedule:NAME, policy:NAME, U... or +1...")
            target = target.strip()
            _check_target(target, at, groups=groups, schedules=schedules, policies=raw)
            wait = step.get("wait_minutes")
            if target.startswith("policy:"):
                if wait is not None:
                    raise PagingConfigError(f"{at}.wait_minutes: a policy:NAME step takes the waits of that policy")
            elif isinstance(wait, bool) or not isinstance(wait, int) or not 1 <= wait <= 24 * 60:
                raise PagingConfigError(f"{at}.wait_minutes: {wait!r} must be a whole number of minutes, 1 to 1440")
            steps.append((target, wait))
        declared[name] = (steps, repeat)
    return {name: Policy(name, tuple(_expand(name, declared, ())), declared[name][1]) for name in declared}


def _check_target(
    target: str, at: str, *, groups: Mapping[str, Any], schedules: Mapping[str, Schedule], policies: Mapping
) -> None:
    kind, _, name = target.partition(":")
    if kind == "group" and name:
        if name not in groups:
            raise PagingConfigError(f"{at}.notify: group {name!r} is not defined under [teams]")
    elif kind == "schedule" and name:
        if name not in schedules:
            raise PagingConfigError(f"{at}.notify: schedule {name!r} is not defined under [[schedules]]")
    elif kind == "policy" and name:
        if name not in policies:
            raise PagingConfigError(f"{at}.notify: policy {name!r} is not defined under [notify.policies]")
    elif not (_USER.match(target) or _PHONE.match(target)):
        raise PagingConfigError(
            f"{at}.notify: {target!r} is not group:NAME, schedule:NAME, policy:NAME, a Slack user ID or an E.164 number"
        )


def _expand(name: str, declared: Mapping[str, tuple[list[tuple[str, int | None]], int]], path: tuple[str, ...]):
    if name in path:
        chain = " -> ".join((*path, name))
        raise PagingConfigError(f"notify.policies.{path[0]}: refers to itself ({chain})")
    steps: list[Step] = []
    for target, wait in declared[name][0]:
        if target.startswith("policy:"):
            steps.extend(_expand(target.partition(":")[2], declared, (*path, name)))
        else:
            steps.append(Step(target, wait or 1))
    return steps
