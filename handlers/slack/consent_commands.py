"""The consent ledger by hand: `/sms optout`, `/sms optin` and `/sms consent`, for admins.

Each subcommand reads its argument text, calls `bot.compliance.ledger` and answers with `bot.compliance.views`.
A change made in a line's channel applies to that line; made anywhere else, to every line.
Nothing is changed when the input cannot be read: the answer quotes what was wrong.
"""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp

from bot.compliance import consent, ledger, views
from bot.conversations import optouts
from bot.permissions import is_admin, refusal
from bot.phone import InvalidPhoneNumber, parse_e164
from bot.services import Services
from bot.slack.format import escape, to_plain_text
from handlers.slack.commands import CommandContext, Subcommands

OPTOUT_USAGE = "`/sms optout +14155550100 [reason...]`"
OPTIN_USAGE = '`/sms optin +14155550100 [evidence...] source="WHERE" [scope=marketing|transactional|all]`'
CONSENT_USAGE = "`/sms consent +14155550100`"

_PHONE_WORD = re.compile(r"[0-9+().\-]+")
# key=value options; a value may be quoted to hold spaces: source="paper form" (Slack apps may send “curly” quotes)
_OPTION = re.compile(r'(?<!\S)(source|scope)=(["“”]([^"“”]*)["“”]|(\S*))', re.IGNORECASE)
_ANY_OPTION = re.compile(r"(?<!\S)([A-Za-z_]+)=")
OPTION_KEYS = ("source", "scope")


def _number(args: str, usage: str) -> tuple[str, str] | str:
    """(E.164 number, the rest of the text), or the answer saying what is wrong. The number may be written with
    spaces: "(415) 555-0123"."""
    words = args.split()
    if not words:
        return f"Usage: {usage}"
    phone_like = 0
    while phone_like < len(words) and _PHONE_WORD.fullmatch(words[phone_like]):
        phone_like += 1
    for count in range(phone_like, 0, -1):  # the longest run of number-like words that reads as a number
        try:
            return parse_e164(" ".join(words[:count])), " ".join(words[count:])
        except InvalidPhoneNumber:
            continue
    try:
        return parse_e164(words[0]), " ".join(words[1:])
    except InvalidPhoneNumber as exc:
        return f":warning: {escape(str(exc))}. Write it like +14155550100. Nothing was changed."


def parse_options(text: str) -> tuple[dict[str, str], str, str | None]:
    """Split `source=... scope=... free text` into ({source, scope}, free text, error).

    A value of several words must be quoted (`source="signed paper form"`): an unquoted source followed by more
    words is refused rather than cut at its first word. Unknown `key=` options are refused by name."""
    for match in _ANY_OPTION.finditer(text):
        if match.group(1).lower() not in OPTION_KEYS:
            return (
                {},
                "",
                f":warning: `{escape(match.group(1))}=` is not an option (use "
                + " or ".join(f"`{k}=`" for k in OPTION_KEYS)
                + "). Nothing was changed.",
            )
    options: dict[str, str] = {}
    for match in _OPTION.finditer(text):
        key = match.group(1).lower()
        value = (match.group(3) if match.group(3) is not None else match.group(4)).strip()
        if key in options:
            return {}, "", f":warning: `{key}=` is given twice. Nothing was changed."
        if key == "source" and match.group(3) is None:
            after = text[match.end() :].split()
            if after and not _OPTION.match(after[0]):
                words = " ".join([value, *after])
                return (
                    {},
                    "",
                    f":warning: `source={escape(value)}` is followed by more words: a source of several words "
                    f'needs quotes, like `source="{escape(words)}"`. Nothing was changed.',
                )
        options[key] = value
    rest = " ".join(_OPTION.sub(" ", text).split())
    return options, rest, None


async def _optout(ctx: CommandContext) -> str:
    """`/sms optout NUMBER [reason...]`: record an opt-out (scope all) by hand."""
    services = ctx.services
    if not is_admin(services.settings, ctx.user):
        return refusal("admins")
    parsed = _number(ctx.args, OPTOUT_USAGE)
    if isinstance(parsed, str):
        return parsed
    phone, reason = parsed
    reason = to_plain_text(reason)
    where = ledger.Where(services.lines.by_channel(ctx.channel))
    recorded = await optouts.opt_out_by_hand(services, user=ctx.user, phone=phone, where=where, reason=reason)
    return views.opted_out_answer(phone, where.line, recorded)


async def _optin(ctx: CommandContext) -> str:
    """`/sms optin NUMBER source=... [scope=...] [evidence...]`: record an opt-in by hand, with its evidence."""
    services = ctx.services
    if not is_admin(services.settings, ctx.user):
        return refusal("admins")
    parsed = _number(ctx.args, OPTIN_USAGE)
    if isinstance(parsed, str):
        return parsed
    phone, rest = parsed
    options, free_text, error = parse_options(rest)
    if error:
        return error
    source = to_plain_text(options.get("source", ""))
    free_text = to_plain_text(free_text)
    if not source:
        return (
            ":warning: Say where the consent comes from with `source=...` (a web form, a paper form, a call).\n"
            f"Usage: {OPTIN_USAGE}. Nothing was changed."
        )
    scope = options.get("scope", "all").lower()
    if scope not in consent.SCOPES:
        return (
            f":warning: scope {escape(options['scope'])!r} must be marketing, transactional or all. "
            "Nothing was changed."
        )
    where = ledger.Where(services.lines.by_channel(ctx.channel))
    states = await ledger.opt_in(
        services, user=ctx.user, phone=phone, where=where, source=source, scope=scope, free_text=free_text
    )
    return views.opted_in_answer(phone, where.line, scope, source, states)


async def _consent(ctx: CommandContext) -> str:
    """`/sms consent NUMBER`: where the number stands, and its ledger, newest first."""
    services = ctx.services
    if not is_admin(services.settings, ctx.user):
        return refusal("admins")
    parsed = _number(ctx.args, CONSENT_USAGE)
    if isinstance(parsed, str):
        return parsed
    phone, _rest = parsed
    where = ledger.Where(services.lines.by_channel(ctx.channel))
    events = await ledger.history(services, phone, where)
    shown = [where.line] if where.line else services.lines.all()
    return views.standing(phone, events, shown, services.lines)


def register(app: AsyncApp, services: Services, subcommands: Subcommands) -> None:
    """`/sms optout`, `optin` and `consent`."""
    subcommands.add(
        "optout",
        "optout +14155550100 [reason...] — opt a number out (this line in a line channel, else every line; admins)",
        _optout,
    )
    subcommands.add(
        "optin",
        'optin +14155550100 source="WHERE" [scope=marketing|transactional|all] — record consent (admins)',
        _optin,
    )
    subcommands.add("consent", "consent +14155550100 — a number's consent state and history (admins)", _consent)
