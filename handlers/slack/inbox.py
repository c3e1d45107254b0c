"""The inbox in Slack: the card's buttons (*Assign to me*, *Resolve* / *Reopen*, *Edit contact*), the contact
modal, and `/sms inbox`, `assign`, `resolve`, `find`, `snippet`."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.contacts import service as contacts
from bot.contacts.views import EDIT_CALLBACK, edit_modal, submitted
from bot.conversations import inbox, inbox_commands
from bot.services import Services
from handlers.slack.actions import _answer
from handlers.slack.commands import CommandContext, Subcommands

log = logging.getLogger(__name__)

UNKNOWN_BUTTON = ":warning: This button belongs to no conversation this service knows."


def _conversation_id(action: dict) -> int | None:
    value = action.get("value")
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 19 else None


async def _inbox(ctx: CommandContext) -> str:
    return await inbox_commands.inbox_list(ctx.services, channel=ctx.channel, user=ctx.user, args=ctx.args)


async def _assign(ctx: CommandContext) -> str:
    return await inbox_commands.assign_command(ctx.services, channel=ctx.channel, actor=ctx.user, args=ctx.args)


async def _resolve(ctx: CommandContext) -> str:
    return await inbox_commands.resolve_command(ctx.services, channel=ctx.channel, actor=ctx.user, args=ctx.args)


async def _find(ctx: CommandContext) -> str:
    return await inbox_commands.find(ctx.services, text=ctx.args)


async def _snippet(ctx: CommandContext) -> str:
    return await inbox_commands.snippet_command(ctx.services, user=ctx.user, args=ctx.args)


def register(app: AsyncApp, services: Services, subcommands: Subcommands) -> None:
    subcommands.add("inbox", "inbox [mine|unassigned|all] — open conversations, the longest waiting first", _inbox)
    subcommands.add("assign", "assign +14155550123 @person — give a conversation to someone", _assign)
    subcommands.add("resolve", "resolve +14155550123 — mark a conversation done (a customer text reopens it)", _resolve)
    subcommands.add("find", "find TEXT — conversations by number, contact name or tag", _find)
    subcommands.add("snippet", "snippet add NAME TEXT · snippet list · snippet delete NAME — saved replies", _snippet)

    async def change(ack, body: dict, action: dict, respond, what) -> None:
        await ack()
        conversation_id = _conversation_id(action)
        if conversation_id is None:
            await _answer(respond, body, UNKNOWN_BUTTON)
            return
        try:
            text = await what(conversation_id, body["user"]["id"])
        except LookupError:
            text = UNKNOWN_BUTTON
        await _answer(respond, body, text)

    @app.action("conversation_assign_me")
    async def assign_me(ack, body: dict, action: dict, respond) -> None:
        await change(ack, body, action, respond, lambda c, u: inbox.assign(services, c, to=u, actor=u))

    @app.action("conversation_resolve")
    async def resolve(ack, body: dict, action: dict, respond) -> None:
        await change(ack, body, action, respond, lambda c, u: inbox.resolve(services, c, actor=u))

    @app.action("conversation_reopen")
    async def reopen(ack, body: dict, action: dict, respond) -> None:
        await change(ack, body, action, respond, lambda c, u: inbox.reopen(services, c, actor=u))

    @app.action("conversation_edit_contact")
    async def edit_contact(ack, body: dict, action: dict, respond) -> None:
        await ack()
        conversation_id = _conversation_id(action)
        phone = await inbox.phone_of(services, conversation_id) if conversation_id is not None else None
        if phone is None:
            await _answer(respond, body, UNKNOWN_BUTTON)
            return
        contact = await contacts.read(services, phone)
        channel = (body.get("channel") or {}).get("id", "")
        try:
            await services.slack.views_open(trigger_id=body.get("trigger_id", ""), view=edit_modal(contact, channel))
        except SlackApiError as exc:
            log.warning("edit contact: views.open failed: %s", exc.response.get("error") if exc.response else exc)
            await _answer(respond, body, ":warning: Slack did not open the form; click *Edit contact* again.")

    @app.view(EDIT_CALLBACK)
    async def save_contact(ack, view: dict) -> None:
        phone, fields = submitted(view)
        try:
            await contacts.save(services, phone, name=fields["name"], tags=fields["tags"], notes=fields["notes"])
        except contacts.ContactInputError as exc:
            block = exc.field if exc.field in fields else "name"
            await ack(response_action="errors", errors={block: str(exc)})
            return
        await ack()
