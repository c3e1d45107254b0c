"""`/sms inbox`, `assign`, `resolve`, `find` and `snippet`: the inbox read and changed by text commands.

Each function takes what the person typed and answers with the text they see (ephemerally)."""

from __future__ import annotations

import logging
import re

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.campaigns.template import unknown_fields
from bot.conversations import inbox, queries, views
from bot.notify.roster import parse_user
from bot.permissions import is_admin, refusal
from bot.phone import InvalidPhoneNumber, parse_e164
from bot.services import Services

log = logging.getLogger(__name__)

LISTED = 20  # conversations one answer lists at most
SNIPPET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_SNIPPET = 1600
INBOX_USAGE = "Usage: `/sms inbox [mine|unassigned|all]`"
ASSIGN_USAGE = "Usage: `/sms assign +14155550123 @person`"
SNIPPET_USAGE = "Usage: `/sms snippet add NAME TEXT` · `/sms snippet list` · `/sms snippet delete NAME`"


async def _archive_url(services: Services) -> str | None:
    """The workspace's URL (auth.test), which thread links start with; None when Slack does not say."""
    try:
        resp = await services.slack.auth_test()
    except (SlackApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        log.warning("inbox: auth.test failed, links are left out: %s", exc)
        return None
    url = resp.get("url")
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


async def inbox_list(services: Services, *, channel: str, user: str, args: str) -> str:
    which = (args.strip().lower() or "all").split()[0]
    if which not in ("mine", "unassigned", "all") or len(args.split()) > 1:
        return f"Unknown filter {args.strip()!r}. " + INBOX_USAGE
    line = services.lines.by_channel(channel)
    lines = [line] if line is not None else services.lines.all()
    async with services.db.session() as session:
        rows = await queries.open_conversations(
            session,
            [known.id for known in lines],
            assignee=user if which == "mine" else None,
            unassigned=which == "unassigned",
            limit=LISTED + 1,
        )
    base = await _archive_url(services) if rows else None
    return views.inbox_answer(rows[:LISTED], which, services.clock.now(), base, more=len(rows) > LISTED)


async def find(services: Services, *, text: str) -> str:
    text = text.strip()
    if not text:
        return "Usage: `/sms find TEXT` — a part of a number (3 digits or more), a contact's name, or a tag."
    digits = re.sub(r"\D", "", text)
    if len(digits) < 3 or re.search(r"[A-Za-z]", text):
        digits = ""
    async with services.db.session() as session:
        rows = await queries.find_conversations(session, text, digits=digits, limit=LISTED + 1)
    base = await _archive_url(services) if rows else None
    return views.find_answer(rows[:LISTED], text, services.clock.now(), base, more=len(rows) > LISTED)


async def _conversation_id(services: Services, channel: str, raw_number: str) -> tuple[int | None, str]:
    """The conversation of a number on this channel's line, or None with the reason."""
    line = services.lines.by_channel(channel)
    if line is None:
        return None, "This works in a line's channel; this channel is not connected to a line."
    try:
        phone = parse_e164(raw_number)
    except InvalidPhoneNumber as exc:
        return None, f":warning: {exc}. Write it like +14155550123."
    async with services.db.session() as session:
        conversation = await queries.by_line_phone(session, line.id, phone)
    if conversation is None:
        return None, f":warning: There is no conversation with {phone} on this line."
    return conversation.id, ""


async def _member_problem(services: Services, user_id: str) -> str | None:
    """Why `user_id` cannot be given a conversation, or None when they can (a person of this workspace)."""
    try:
        resp = await services.slack.users_info(user=user_id)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "error"
        if error == "user_not_found":
            return f"<@{user_id}> is not a member of this workspace."
        return f"Slack could not tell who <@{user_id}> is ({error})."
    except (aiohttp.ClientError, OSError, TimeoutError):
        return "Slack is unreachable just now; try again."
    user = resp.get("user") or {}
    if user.get("deleted"):
        return f"<@{user_id}> is deactivated."
    if user.get("is_bot"):
        return f"<@{user_id}> is a bot; assign a person."
    return None


async def assign_command(services: Services, *, channel: str, actor: str, args: str) -> str:
    parts = args.split()
    if len(parts) != 2:
        return ASSIGN_USAGE
    who = parse_user(parts[1])
    if who is None:
        return f":warning: {parts[1]!r} is not a mention of a person (write @name). " + ASSIGN_USAGE
    conversation_id, problem = await _conversation_id(services, channel, parts[0])
    if conversation_id is None:
        return problem
    member = await _member_problem(services, who)
    if member is not None:
        return f":warning: {member} Nothing was changed."
    return await inbox.assign(services, conversation_id, to=who, actor=actor)


async def resolve_command(services: Services, *, channel: str, actor: str, args: str) -> str:
    parts = args.split()
    if len(parts) != 1:
        return "Usage: `/sms resolve +14155550123`"
    conversation_id, problem = await _conversation_id(services, channel, parts[0])
    if conversation_id is None:
        return problem
    return await inbox.resolve(services, conversation_id, actor=actor)


def _snippet_name(raw: str) -> tuple[str, str]:
    """(name, rest) from `NAME TEXT`, or from `"A NAME" TEXT` (which is then refused for its space)."""
    raw = raw.strip()
    quoted = re.match(r'^["“]([^"”]*)["”]\s*(.*)$', raw, re.S)
    if quoted:
        return quoted.group(1), quoted.group(2)
    name, _, rest = raw.partition(" ")
    return name, rest


def _check_name(name: str) -> str | None:
    if " " in name.strip() or "\t" in name:
        return f":warning: Snippet name {name!r} has a space: a name is one word (letters, digits, - and _)."
    if not SNIPPET_NAME.match(name.lower()):
        return (
            f":warning: Snippet name {name!r} must be letters, digits, - and _ (at most 40), "
            "starting with a letter or digit."
        )
    return None


async def snippet_command(services: Services, *, user: str, args: str) -> str:
    action, _, rest = args.strip().partition(" ")
    action = action.lower()
    if action == "list":
        async with services.db.session() as session:
            saved = await queries.snippets(session)
        return views.snippet_list([(s.name, s.text) for s in saved])
    if action not in ("add", "delete"):
        return SNIPPET_USAGE
    if not is_admin(services.settings, user):
        return refusal("admins")
    name, text = _snippet_name(rest)
    if not name:
        return SNIPPET_USAGE
    problem = _check_name(name)
    if problem:
        return problem + " Nothing was saved." if action == "add" else problem
    name = name.lower()
    if action == "delete":
        async with services.db.session() as session:
            deleted = await queries.delete_snippet(session, name)
        return f"Deleted snippet `!{name}`." if deleted else f":warning: There is no snippet `!{name}`."
    text = text.strip()
    if not text:
        return f":warning: Snippet `!{name}` needs a text. " + SNIPPET_USAGE
    if len(text) > MAX_SNIPPET:
        return f":warning: The text is {len(text)} characters long; a snippet has at most {MAX_SNIPPET}."
    unknown = unknown_fields(text)
    if unknown:
        known = "first_name, last_name, name, phone"
        return f":warning: The text names unknown fields: {', '.join(unknown)} (known: {known})."
    async with services.db.session() as session:
        new = await queries.save_snippet(session, name, text, user, services.clock.now())
    return f"{'Saved' if new else 'Replaced'} snippet `!{name}`. Reply `!{name}` in a conversation thread to send it."
