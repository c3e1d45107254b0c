"""`/sms campaign ...` subcommands, the Approve/Cancel buttons and the campaign modal."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.campaigns import queries, report, service, views
from bot.campaigns.service import CampaignError
from bot.campaigns.template import ArgumentError, parse_kv
from bot.permissions import is_admin, is_approver, refusal
from bot.services import Services
from bot.slack import outbox
from handlers.slack.commands import CommandContext, Subcommands

log = logging.getLogger(__name__)

MODAL_CALLBACK = "campaign_create"
USAGE = (
    "campaign [create name=... to=all|tag:X|list:NAME at=now|ISO text=... [line=+1...] "
    "[purpose=marketing|transactional]] | list | show ID | approve ID | pause ID | resume ID | cancel ID | report ID"
)
CREATE_KEYS = {"name", "to", "at", "text", "line", "purpose"}


async def campaign_command(ctx: CommandContext) -> str | dict:
    action, _, rest = ctx.args.partition(" ")
    action = action.lower()
    settings = ctx.services.settings
    try:
        if action == "":
            if not is_admin(settings, ctx.user):
                return refusal("admins")
            return await open_modal(ctx)
        if action == "create":
            if not is_admin(settings, ctx.user):
                return refusal("admins")
            return await _create(ctx, rest)
        if not (is_admin(settings, ctx.user) or is_approver(settings, ctx.user)):
            return refusal("admins and approvers")
        if action == "list":
            return await _list(ctx.services)
        if action == "show":
            return await _show(ctx.services, queries.campaign_id(rest))
        if action == "report":
            return await _report(ctx.services, queries.campaign_id(rest), ctx.user)
        change = {
            "approve": service.approve,
            "pause": service.pause,
            "resume": service.resume,
            "cancel": service.cancel,
        }.get(action)
        if change is None:
            return f"Unknown campaign action {action!r}. Usage: `/sms {USAGE}`"
        return await change(ctx.services, queries.campaign_id(rest), ctx.user)
    except (CampaignError, ArgumentError) as exc:
        return f":warning: {exc}"


async def _create(ctx: CommandContext, rest: str) -> str:
    fields = parse_kv(rest)
    unknown = sorted(set(fields) - CREATE_KEYS)
    if unknown:
        raise CampaignError(f"unknown key {unknown[0]}= (allowed: {', '.join(sorted(CREATE_KEYS))})")
    draft, errors = service.validate(ctx.services, fields, channel=ctx.channel)
    if errors or draft is None:
        return ":warning: " + " ".join(f"{key}=: {error}" for key, error in errors.items())
    campaign = await service.create(ctx.services, ctx.user, draft)
    return (
        f"Draft campaign #{campaign.id} *{campaign.name}* created. Its preview, with Approve/Cancel, "
        f"is being posted in <#{campaign.channel}>."
    )


async def _list(services: Services) -> str:
    async with services.db.session() as session:
        return views.campaign_list(await queries.recent(session))


async def _show(services: Services, campaign_id: int) -> str:
    async with services.db.session() as session:
        campaign, events = await queries.with_history(session, campaign_id)
    return views.campaign_details(campaign, services.lines.get(campaign.line_id), events)


async def _report(services: Services, campaign_id: int, user: str) -> str:
    return await report.publish(services, campaign_id, requested_by=user)


# -- the modal ------------------------------------------------------------------------------------


def _input(block_id: str, label: str, element: dict, hint: str | None = None, optional: bool = False) -> dict:
    block = {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": {**element, "action_id": "value"},
        "optional": optional,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def _option(value: str, text: str | None = None) -> dict:
    return {"text": {"type": "plain_text", "text": text or value}, "value": value}


def modal_view(services: Services, channel: str | None) -> dict:
    lines = [line for line in services.lines.all() if line.config.sends_campaigns]
    here = services.lines.by_channel(channel)
    default = here if here is not None and here.config.sends_campaigns else (lines[0] if lines else None)
    line_select: dict[str, Any] = {
        "type": "static_select",
        "options": [_option(ln.config.key, f"{ln.config.key} {ln.config.brand}".strip()) for ln in lines]
        or [_option("none", "no a2p line configured")],
    }
    if default is not None:
        line_select["initial_option"] = _option(
            default.config.key, f"{default.config.key} {default.config.brand}".strip()
        )
    purposes = [
        _option("marketing", "Marketing (needs opt-in, quiet hours)"),
        _option("transactional", "Transactional"),
    ]
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "private_metadata": channel or "",
        "title": {"type": "plain_text", "text": "New SMS campaign"},
        "submit": {"type": "plain_text", "text": "Create draft"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input("name", "Name", {"type": "plain_text_input", "max_length": 120}),
            _input("line", "Send from", line_select),
            _input(
                "to", "Audience", {"type": "plain_text_input", "initial_value": "all"}, "all, tag:NAME or list:NAME"
            ),
            _input("purpose", "Purpose", {"type": "static_select", "options": purposes, "initial_option": purposes[0]}),
            _input(
                "text",
                "Message",
                {"type": "plain_text_input", "multiline": True, "max_length": 1400},
                "Fields: {first_name|there}, {last_name}, {name}. Links are tracked. The STOP footer is added.",
            ),
            _input(
                "at",
                "Send time",
                {"type": "plain_text_input", "initial_value": "now"},
                "now, or an ISO time like 2030-06-01T15:00:00-04:00",
            ),
        ],
    }


async def open_modal(ctx: CommandContext) -> str:
    if not ctx.trigger_id:
        return "Cannot open the campaign form here; use `/sms campaign create name=... to=... at=... text=...`."
    await ctx.services.slack.views_open(trigger_id=ctx.trigger_id, view=modal_view(ctx.services, ctx.channel))
    return ""


def _submitted(view: dict) -> dict[str, str]:
    fields = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        element = actions.get("value") or {}
        if element.get("type") == "static_select":
            fields[block_id] = ((element.get("selected_option") or {}).get("value")) or ""
        else:
            fields[block_id] = element.get("value") or ""
    return fields


def register(app: AsyncApp, services: Services, subcommands: Subcommands) -> None:
    """`/sms campaign`, and the buttons and modal submissions of this domain."""
    subcommands.add("campaign", USAGE, campaign_command)

    @app.view(MODAL_CALLBACK)
    async def on_submit(ack, body: dict, view: dict) -> None:
        user = body["user"]["id"]
        if not is_admin(services.settings, user):
            await ack(response_action="errors", errors={"name": "Only admins may create campaigns."})
            return
        draft, errors = service.validate(services, _submitted(view), channel=view.get("private_metadata") or None)
        if errors or draft is None:
            await ack(response_action="errors", errors=errors)
            return
        try:
            campaign = await service.create(services, user, draft)
        except CampaignError as exc:
            await ack(response_action="errors", errors={"to": str(exc)})
            return
        await ack()
        async with services.db.session() as session:
            await outbox.enqueue(
                session,
                channel=campaign.channel,
                op="ephemeral",
                payload={
                    "user": user,
                    "text": f"Draft campaign #{campaign.id} *{campaign.name}* created; its preview follows here.",
                },
            )
        services.wakeups.poke_outbox()

    async def _button(body: dict, action: dict, func) -> None:
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or ""
        try:
            text = await func(services, queries.campaign_id(action.get("value") or ""), user)
        except CampaignError as exc:
            text = f":warning: {exc}"
        if channel:
            async with services.db.session() as session:
                await outbox.enqueue(session, channel=channel, op="ephemeral", payload={"user": user, "text": text})
            services.wakeups.poke_outbox()

    @app.action("campaign_approve")
    async def on_approve(ack, body: dict, action: dict) -> None:
        await ack()
        await _button(body, action, service.approve)

    @app.action("campaign_cancel")
    async def on_cancel(ack, body: dict, action: dict) -> None:
        await ack()
        await _button(body, action, service.cancel)
