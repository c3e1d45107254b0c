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


class Subcommands:
    """The `/sms` subcommands by name, in the order they were added (the order `/sms help` lists them)."""

    def __init__(self) -> None:
        self._table: dict[str, tuple[Subcommand, str]] = {}

    def add(self, name: str, usage: str, func: Subcommand) -> None:
        """Route `/sms NAME` to `func`; `usage` is its one line in `/sms help`."""
        self._table[name] = (func, usage)

    def help_text(self) -> str:
        lines = ["*sms-bridge* — business texting from Slack. Usage:"]
        lines += [f"• `/sms {usage}`" for _func, usage in self._table.values()]
        return "\n".join(lines)

    async def help(self, ctx: CommandContext) -> str:
        return self.help_text()

    async def run(self, ctx_services: Services, command: dict) -> str | dict:
        """Route one `/sms` invocation to its subcommand; unknown words get the usage."""
        text = (command.get("text") or "").strip()
        name, _, args = text.partition(" ")
        entry = self._table.get(name.lower() or "help")
        if entry is None:
            return f"Unknown subcommand {name!r}.\n" + self.help_text()
        ctx = CommandContext(
            services=ctx_services,
            user=command.get("user_id", ""),
            channel=command.get("channel_id", ""),
            args=args.strip(),
            trigger_id=command.get("trigger_id"),
        )
        return await entry[0](ctx)


async def _send(ctx: CommandContext) -> str:
    number, _, text = ctx.args.partition(" ")
    if not number:
        return "Usage: `/sms send +14155550100 your message`"
    return await start_from_command(
        ctx.services, channel=ctx.channel, user=ctx.user, number=to_plain_text(number), text=to_plain_text(text.strip())
    )


SEND_USAGE = "send +14155550100 TEXT — text a number from this line's channel (opens its thread)"


def register(app: AsyncApp, services: Services, subcommands: Subcommands) -> None:
    """The `/sms` command itself, routed through `subcommands`, and its own `help` and `send`."""
    subcommands.add("help", "help — this list", subcommands.help)
    subcommands.add("send", SEND_USAGE, _send)

    @app.command("/sms")
    async def on_sms(ack, command: dict) -> None:
        answer = await subcommands.run(services, command)
        if isinstance(answer, dict):
            await ack(**answer)
        else:
            await ack(text=answer, response_type="ephemeral")
