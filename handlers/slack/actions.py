"""Slack interactivity: buttons in conversation threads."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.conversations.service import opt_out_from_slack
from bot.phone import InvalidPhoneNumber, parse_e164
from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    @app.action("conversation_opt_out")
    async def opt_out(ack, body: dict, action: dict, respond) -> None:
        await ack()
        try:
            phone = parse_e164(action.get("value", ""))
        except InvalidPhoneNumber as exc:
            await respond(text=f":warning: {exc}", response_type="ephemeral", replace_original=False)
            return
        channel = (body.get("channel") or {}).get("id", "")
        text = await opt_out_from_slack(services, channel=channel, user=body["user"]["id"], phone=phone)
        await respond(text=text, response_type="ephemeral", replace_original=False)
