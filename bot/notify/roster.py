"""Who is in a team and which number pages them.

A person's paging number is their roster entry (`/sms team add`), else the phone on their Slack profile
(users.info, profile.phone). Groups are the config file's [teams] plus memberships added by command.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.phone import InvalidPhoneNumber, parse_e164
from bot.services import Services
from bot.settings import Settings
from bot.slack import mentions
from storage.db import changed
from storage.models.notify import GroupMember, RosterEntry

log = logging.getLogger(__name__)

GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# A Slack user ID from a mention (<@U123|name>, <@U123>) or a bare ID; None otherwise: the one parser.
parse_user = mentions.parse_user


@dataclass(frozen=True)
class Member:
    """A person to page, or a bare number (user_id None). phone None: nobody knows a number for them."""

    user_id: str | None
    phone: str | None
    name: str = ""
    reason: str = ""  # why there is no phone


async def groups(session: AsyncSession, settings: Settings) -> dict[str, list[str]]:
    """Every group: config [teams] first (in file order), then members added by command."""
    result: dict[str, list[str]] = {name: list(members) for name, members in settings.teams.items()}
    rows = (await session.scalars(select(GroupMember).order_by(GroupMember.created_at, GroupMember.user_id))).all()
    for row in rows:
        members = result.setdefault(row.group_name, [])
        if row.user_id not in members:
            members.append(row.user_id)
    return result


async def group_members(session: AsyncSession, settings: Settings, group: str) -> list[str] | None:
    """The user IDs of `group`, or None when no such group exists."""
    return (await groups(session, settings)).get(group)


async def set_phone(session: AsyncSession, *, user_id: str, phone: str, added_by: str, group: str | None) -> None:
    entry = await session.get(RosterEntry, user_id)
    if entry is None:
        session.add(RosterEntry(user_id=user_id, phone=phone, added_by=added_by))
    else:
        entry.phone, entry.added_by = phone, added_by
    if group and await session.get(GroupMember, (group, user_id)) is None:
        session.add(GroupMember(group_name=group, user_id=user_id, added_by=added_by))
    await session.flush()


async def remove(session: AsyncSession, settings: Settings, *, user_id: str, group: str | None) -> str:
    """Take a person out of one group (added by command), or out of the roster and every such group.

    Returns what was done, for the person who asked. Members listed in the config file stay (the file rules)."""
    if group is not None:
        if user_id in settings.teams.get(group, ()):
            return f"<@{user_id}> is in *{group}* by the config file ([teams]); change it there."
        gone = await session.execute(
            delete(GroupMember).where(GroupMember.group_name == group, GroupMember.user_id == user_id)
        )
        if not changed(gone):
            return f"<@{user_id}> is not in group *{group}*."
        return f"<@{user_id}> was removed from *{group}*."
    entry = await session.get(RosterEntry, user_id)
    groups = changed(await session.execute(delete(GroupMember).where(GroupMember.user_id == user_id)))
    if entry is not None:
        await session.delete(entry)
    in_file = [name for name, members in settings.teams.items() if user_id in members]
    if entry is None and not groups:
        if in_file:
            return f"<@{user_id}> is only in the config file's [teams] ({', '.join(in_file)}); change it there."
        return f"<@{user_id}> is not in the roster."
    note = f" They stay in {', '.join(in_file)} from the config file's [teams]." if in_file else ""
    return f"<@{user_id}> was removed from the roster and {groups} group(s).{note}"


async def roster(session: AsyncSession) -> dict[str, str]:
    return {row.user_id: row.phone for row in (await session.scalars(select(RosterEntry))).all()}


async def resolve_users(services: Services, user_ids: list[str]) -> list[Member]:
    """Paging numbers for these people (roster first, Slack profile otherwise), in the given order, once each."""
    unique = list(dict.fromkeys(user_ids))
    async with services.db.session() as session:
        known = await roster(session)
    members = []
    for user_id in unique:
        if user_id in known:
            members.append(Member(user_id, known[user_id]))
        else:
            members.append(await _from_profile(services, user_id))
    return members


async def _from_profile(services: Services, user_id: str) -> Member:
    try:
        resp = await services.slack.users_info(user=user_id)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "error"
        return Member(user_id, None, reason=f"not in the roster, and Slack could not tell their profile ({error})")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        log.warning("notify: users.info for %s failed: %s", user_id, exc)
        return Member(user_id, None, reason="not in the roster, and Slack was unreachable for their profile")
    user = resp.get("user") or {}
    profile = user.get("profile") or {}
    name = profile.get("real_name") or user.get("real_name") or ""
    raw = (profile.get("phone") or "").strip()
    if not raw:
        return Member(user_id, None, name, "no phone in the roster or on their Slack profile")
    try:
        return Member(user_id, parse_e164(raw), name)
    except InvalidPhoneNumber as exc:
        return Member(user_id, None, name, f"the phone on their Slack profile cannot be used: {exc}")
