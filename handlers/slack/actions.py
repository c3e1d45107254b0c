"""Slack interactivity: buttons in conversation threads."""

from __future__ import annotations

import logging

import aiohttp
from slack_bolt.async_app import AsyncApp

from bot.conversations import optouts
from bot.conversations.service import opt_out_from_slack
from bot.phone import InvalidPhoneNumber, parse_e164
from bot.services import Services

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    @app.action("conversation_opt_out")
    async def opt_out(ack, body: dict, action: dict, respond) -> None:
        await ack()
        try:
            phone = parse_e164(action.get("value", ""))
        except InvalidPhoneNumber as exc:
            await _answer(respond, body, f":warning: {exc}")
            return
        channel = (body.get("channel") or {}).get("id", "")
        text = await opt_out_from_slack(services, channel=channel, user=body["user"]["id"], phone=phone)
        await _answer(respond, body, text)

    async def decide(body: dict, action: dict, respond, confirm: bool) -> None:
        value = str(action.get("value", ""))
        if not value.isdigit():
            await _answer(respond, body, f":warning: {value!r} is not a stop request id. Nothing was changed.")
            return
        channel = (body.get("channel") or {}).get("id", "")
        text = await optouts.decide_stop_request(
            services, request_id=int(value), user=body["user"]["id"], confirm=confirm, channel=channel
        )
        await _answer(respond, body, text)

    @app.action("stop_request_confirm")
    async def confirm_request(ack, body: dict, action: dict, respond) -> None:
        await ack()
        await decide(body, action, respond, True)

    @app.action("stop_request_dismiss")
    async def dismiss_request(ack, body: dict, action: dict, respond) -> None:
        await ack()
        await decide(body, action, respond, False)


async def _answer(respond, body: dict, text: str) -> None:
    """Answer the person who clicked, privately, through the click's response_url (a click without one,
    which Slack never sends for a message's button, gets no answer)."""
    if body.get("response_url"):
        try:
            await respond(text=text, response_type="ephemeral", replace_original=False)
        except (aiohttp.ClientError, TimeoutError) as exc:  # the click itself was handled; only its answer is lost
            log.warning("could not answer a click through its response_url: %s", exc)
