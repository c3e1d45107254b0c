"""What a conversation's own outbox rows do in Slack: post its thread's root card, and re-render it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversations.card import card_blocks, card_text
from bot.conversations.queries import card_facts
from bot.services import Services
from bot.slack.ops import NoThread, conversation_of
from bot.slack.outbox import Op, OpResult, Retry, post_metadata
from storage.db import get_row
from storage.models import Conversation, SlackOutbox


async def _card(services: Services, conversation: Conversation) -> tuple[str, list[dict]]:
    async with services.db.session() as session:
        facts = await card_facts(session, services.lines, conversation, services.clock.now())
    return card_text(facts), card_blocks(facts)


class PostRoot(NoThread):
    """Open a conversation's thread: post its card at channel level."""

    async def perform(self, services: Services, row: SlackOutbox) -> OpResult:
        conversation = await conversation_of(services, row)
        if conversation.thread_ts:  # already open (e.g. two roots were queued by a race)
            return OpResult(conversation.thread_ts)
        text, blocks = await _card(services, conversation)
        resp = await services.slack.chat_postMessage(
            channel=row.channel, text=text, blocks=blocks, metadata=post_metadata(row), unfurl_links=False
        )
        return OpResult(resp["ts"])

    async def record(self, session: AsyncSession, row: SlackOutbox, result: OpResult) -> None:
        conversation = await get_row(session, Conversation, row.conversation_id)
        if conversation.thread_ts is None:
            conversation.thread_ts = result.ts


class UpdateCard(NoThread):
    """Re-render a conversation's root card from the current state."""

    async def perform(self, services: Services, row: SlackOutbox) -> OpResult:
        conversation = await conversation_of(services, row)
        if conversation.thread_ts is None:
            raise Retry("the thread root is not posted yet", 1.0)
        text, blocks = await _card(services, conversation)
        await services.slack.chat_update(channel=row.channel, ts=conversation.thread_ts, text=text, blocks=blocks)
        return OpResult(conversation.thread_ts)


def card_ops() -> dict[str, Op]:
    """The outbox ops of conversations, by the name their rows give."""
    return {"post_root": PostRoot(), "update_card": UpdateCard()}
