"""`/sms` subcommands and buttons of the notify domain, added by `register`.

`/sms notify GROUP-or-@user TEXT` (anyone) · `/sms team add @user +1... [group]` · `/sms team remove @user [group]`
· `/sms team list` (admins) · `/sms oncall [SCHEDULE]` (anyone) · `/sms oncall override SCHEDULE @user UNTIL`
(admins) · a page message's *Acknowledge* and *Resolve* buttons.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.notify import oncall, roster, service, views
from bot.notify.service import NotifyError
from bot.permissions import is_admin, refusal
from bot.phone import InvalidPhoneNumber, mask, parse_e164
from bot.services import Services
from bot.slack import mentions
from bot.slack.format import to_plain_text
from handlers.slack.commands import CommandContext, Subcommands

NOTIFY_USAGE = "Usage: `/sms notify oncall|@user|+14155550100 your message`"
TEAM_USAGE = "Usage: `/sms team add @user +14155550100 [group]`, `/sms team remove @user [group]` or `/sms team list`"
ONCALL_USAGE = (
    "Usage: `/sms oncall [SCHEDULE]` or `/sms oncall override SCHEDULE @user UNTIL` (UNTIL: 8h, 2d or 2026-12-03 09:00)"
)


async def _notify(ctx: CommandContext) -> str:
    target_text, _, text = ctx.args.partition(" ")
    if not target_text or not text.strip():
        return NOTIFY_USAGE
    services = ctx.services
    try:
        target = service.parse_target(target_text, bare_group=True)
        text = service.check_text(to_plain_text(text))
        members = await service.resolve(services, target)
        created = await service.create(
            services,
            target=target,
            members=members,
            text=text,
            source="slack",
            created_by=ctx.user,
            line=service.paging_line(services, ctx.channel),
            channel=ctx.channel,
        )
    except NotifyError as exc:
        return f":warning: {exc}. {NOTIFY_USAGE}"
    n = len(members)
    who = f"*{target.value}* ({n} member{'s' if n != 1 else ''})" if target.kind == "group" else target_text
    return f"Paging {who}: page #{created.notification.id}. Delivery status is posted in this channel."


async def _team(ctx: CommandContext) -> str:
    if not is_admin(ctx.services.settings, ctx.user):
        return refusal("admins")
    action, _, rest = ctx.args.partition(" ")
    if action == "add":
        return await _team_add(ctx, rest.split())
    if action == "list":
        return await _team_list(ctx)
    if action == "remove":
        return await _team_remove(ctx, rest.split())
    return TEAM_USAGE


async def _team_remove(ctx: CommandContext, words: list[str]) -> str:
    if not 1 <= len(words) <= 2:
        return TEAM_USAGE
    user = roster.parse_user(words[0])
    if user is None:
        return f":warning: {words[0]!r} is not a Slack user; mention them like @alice. {TEAM_USAGE}"
    group = words[1].lower() if len(words) == 2 else None
    if group is not None and not roster.GROUP_NAME.match(group):
        return f":warning: {words[1]!r} is not a group name (lowercase letters, digits, - and _, up to 40)."
    async with ctx.services.db.session() as session:
        return await roster.remove(session, ctx.services.settings, user_id=user, group=group)


def _when(value, zone) -> str:
    return f"{value.astimezone(zone):%a %Y-%m-%d %H:%M %Z}"


async def _oncall(ctx: CommandContext) -> str:
    words = ctx.args.split()
    schedules = ctx.services.settings.schedules
    if words and words[0].lower() == "override":
        return await _oncall_override(ctx, words[1:])
    if len(words) > 1:
        return ONCALL_USAGE
    if not schedules:
        return "No on-call schedules are configured ([[schedules]] in the config file)."
    names = [words[0].lower()] if words else list(schedules)
    lines = []
    for name in names:
        try:
            schedule, now, following = await oncall.now_and_following(ctx.services, name)
        except oncall.OncallError as exc:
            return f":warning: {exc}. {ONCALL_USAGE}"
        zone = schedule.zone
        why = " (override)" if now.override else ""
        lines.append(
            f"*{name}* ({schedule.rotation}, handoff {schedule.handoff_text} {schedule.timezone}): "
            f"<@{now.user_id}>{why} until {_when(now.ends_at, zone)}; "
            f"next <@{following.user_id}>{' (override)' if following.override else ''}"
        )
    return "\n".join(lines)


async def _oncall_override(ctx: CommandContext, words: list[str]) -> str:
    if not is_admin(ctx.services.settings, ctx.user):
        return refusal("admins")
    if len(words) < 3:
        return ONCALL_USAGE
    name, who, until = words[0].lower(), words[1], " ".join(words[2:])
    user = roster.parse_user(who)
    if user is None:
        return f":warning: {who!r} is not a Slack user; mention them like @alice. {ONCALL_USAGE}"
    try:
        row = await oncall.add_override(ctx.services, name=name, user_id=user, until=until, created_by=ctx.user)
    except oncall.OncallError as exc:
        return f":warning: {exc}. {ONCALL_USAGE}"
    zone = ctx.services.settings.schedules[name].zone
    return f"<@{user}> is on call for *{name}* until {_when(row.ends_at, zone)}."


async def _team_add(ctx: CommandContext, words: list[str]) -> str:
    if len(words) < 2:
        return TEAM_USAGE
    user = roster.parse_user(words[0])
    if user is None:
        return f":warning: {mentions.user_error(words[0])}. Nothing was changed. {TEAM_USAGE}"
    rest = words[1:]
    # The number may be typed with spaces (+1 415 555 0100); a last word with a letter in it is the group.
    group = rest.pop().lower() if len(rest) > 1 and any(c.isalpha() for c in rest[-1]) else None
    raw_phone = " ".join(rest)
    try:
        phone = parse_e164(raw_phone)
    except InvalidPhoneNumber as exc:
        return f":warning: {exc}. Write it like +14155550100."
    if group is not None and not roster.GROUP_NAME.match(group):
        return f":warning: {group!r} is not a group name (lowercase letters, digits, - and _, up to 40)."
    async with ctx.services.db.session() as session:
        await roster.set_phone(session, user_id=user, phone=phone, added_by=ctx.user, group=group)
    where = f" and in group *{group}*" if group else ""
    return f"<@{user}> is paged at {phone}{where}."


async def _team_list(ctx: CommandContext) -> str:
    async with ctx.services.db.session() as session:
        groups = await roster.groups(session, ctx.services.settings)
        phones = await roster.roster(session)
    if not groups and not phones:
        return "No teams yet. Add people with `/sms team add @user +14155550100 group`."
    lines = ["*Teams* (numbers from the roster; others are paged at the phone on their Slack profile):"]
    for name, members in groups.items():
        escalation = service.escalation_for(ctx.services, name)
        suffix = f" — escalates to *{escalation}*" if escalation else ""
        lines.append(f"• *{name}*{suffix}")
        for user in members:
            lines.append(f"    ◦ <@{user}>: {mask(phones[user]) if user in phones else 'Slack profile phone'}")
    loose = [user for user in phones if not any(user in members for members in groups.values())]
    if loose:
        lines.append("• _in no group_")
        lines += [f"    ◦ <@{user}>: {mask(phones[user])}" for user in loose]
    return "\n".join(lines)


def register(app: AsyncApp, services: Services, subcommands: Subcommands) -> None:
    """`/sms notify`, `/sms team`, `/sms oncall`, and the page buttons."""
    subcommands.add(
        "notify", "notify GROUP-or-@user TEXT — page team members by SMS; delivery status is posted here", _notify
    )
    subcommands.add(
        "team",
        "team add @user +14155550100 [group] / team remove @user [group] / team list — the roster (admins)",
        _team,
    )
    subcommands.add(
        "oncall", "oncall [SCHEDULE] — who is on call now and next; oncall override SCHEDULE @user UNTIL", _oncall
    )

    async def _button(ack, body: dict, action: dict, respond, verb: str) -> None:
        await ack()
        raw = str(action.get("value", ""))
        if not raw.isdigit():
            text = f":warning: {raw!r} is not a page number."
        else:
            text = await service.from_slack(services, int(raw), user=body["user"]["id"], action=verb)
        if body.get("response_url"):
            await respond(text=text, response_type="ephemeral", replace_original=False)

    @app.action(views.ACK_ACTION)
    async def acknowledge(ack, body: dict, action: dict, respond) -> None:
        await _button(ack, body, action, respond, "ack")

    @app.action(views.RESOLVE_ACTION)
    async def resolve(ack, body: dict, action: dict, respond) -> None:
        await _button(ack, body, action, respond, "resolve")
