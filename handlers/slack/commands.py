"""The `/sms` slash command: split the text into a subcommand and its arguments, answer ephemerally."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp

from bot.conversations.service import start_from_command
from bot.services import Services
from bot.slack.format import to_plain_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandContext:
    services: Services
    user: str
    channel: str
    args: str
    trigger_id: str | None = None


Subcommand = Callable[[CommandContext], Awaitable[str | dict]]
SUBCOMMANDS: dict[str, tuple[Subcommand, str]] = {}


def subcommand(name: str, usage: str) -> Callable[[Subcommand], Subcommand]:
    """Register a `/sms NAME` subcommand with its one-line usage for `/sms help`."""

    def wrap(func: Subcommand) -> Subcommand:
        SUBCOMMANDS[name] = (func, usage)
        return func

    return wrap


def help_text() -> str:
    lines = ["*sms-bridge* — business texting from Slack. Usage:"]
    lines += [f"• `/sms {usage}`" for _func, usage in SUBCOMMANDS.values()]
    return "\n".join(lines)


@subcommand("help", "help — this list")
async def _help(ctx: CommandContext) -> str:
    return help_text()


@subcommand("send", "send +14155550100 TEXT — text a number from this line's channel (opens its thread)")
async def _send(ctx: CommandContext) -> str:
    number, _, text = ctx.args.partition(" ")
    if not number:
        return "Usage: `/sms send +14155550100 your message`"
    return await start_from_command(
        ctx.services, channel=ctx.channel, user=ctx.user, number=to_plain_text(number), text=to_plain_text(text.strip())
    )


async def run(ctx_services: Services, command: dict) -> str | dict:
    """Route one `/sms` invocation to its subcommand; unknown words get the usage."""
    text = (command.get("text") or "").strip()
    name, _, args = text.partition(" ")
    entry = SUBCOMMANDS.get(name.lower() or "help")
    if entry is None:
        return f"Unknown subcommand {name!r}.\n" + help_text()
    ctx = CommandContext(
        services=ctx_services,
        user=command.get("user_id", ""),
        channel=command.get("channel_id", ""),
        args=args.strip(),
        trigger_id=command.get("trigger_id"),
    )
    return await entry[0](ctx)


def register(app: AsyncApp, services: Services) -> None:
    @app.command("/sms")
    async def on_sms(ack, command: dict) -> None:
        answer = await run(services, command)
        if isinstance(answer, dict):
            await ack(**answer)
        else:
            await ack(text=answer, response_type="ephemeral")
