"""What a conversation's own outbox rows do in Slack: post its thread's root card, and re-render it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversations.card import card_blocks, card_text
from bot.conversations.queries import card_facts
from bot.conversations.views import inbound_post
from bot.services import Services
from bot.slack.ops import NoThread, conversation_of, record_posted
from bot.slack.outbox import Op, OpResult, Retry, post_metadata
from storage.db import get_row
from storage.models import Conversation, Message, SlackOutbox


async def _card(
    services: Services, conversation: Conversation, first_message_id: int | None = None
) -> tuple[str, list[dict]]:
    async with services.db.session() as session:
        facts = await card_facts(
            session, services.lines, conversation, services.clock.now(), first_message_id=first_message_id
        )
    return card_text(facts), card_blocks(facts)


class PostRoot(NoThread):
    """Open a conversation's thread: post its card at channel level, with the customer's first text when the
    row names it (`message_id`): that text's Slack message is then the root."""

    async def perform(self, services: Services, row: SlackOutbox) -> OpResult:
        conversation = await conversation_of(services, row)
        if conversation.thread_ts:  # already open (e.g. two roots were queued by a race)
            if row.message_id is None:
                return OpResult(conversation.thread_ts)
            return await self._text_in_thread(services, row, conversation, row.message_id)
        text, blocks = await _card(services, conversation, row.message_id)
        resp = await services.slack.chat_postMessage(
            channel=row.channel, text=text, blocks=blocks, metadata=post_metadata(row), unfurl_links=False
        )
        return OpResult(resp["ts"])

    async def _text_in_thread(
        self, services: Services, row: SlackOutbox, conversation: Conversation, message_id: int
    ) -> OpResult:
        """The text this root would have carried, posted in the thread that is open already (once: a text
        Slack shows already is left where it is)."""
        async with services.db.session() as session:
            message = await get_row(session, Message, message_id)
        if message.slack_ts is not None:
            return OpResult(message.slack_ts)
        post = inbound_post(message.body, len(message.media or ()), "", None)
        resp = await services.slack.chat_postMessage(
            channel=row.channel,
            thread_ts=conversation.thread_ts,
            text=post["text"],
            blocks=post["blocks"],
            metadata=post_metadata(row),
            unfurl_links=False,
            unfurl_media=False,
        )
        return OpResult(resp["ts"])

    async def record(self, session: AsyncSession, row: SlackOutbox, result: OpResult) -> None:
        conversation = await get_row(session, Conversation, row.conversation_id)
        if conversation.thread_ts is None:
            conversation.thread_ts = result.ts
        await record_posted(session, row, result)


class UpdateCard(NoThread):
    """Re-render a conversation's root card from the current state."""

    async def perform(self, services: Services, row: SlackOutbox) -> OpResult:
        async with services.db.session() as session:  # the conversation and its card, as one moment saw them
            conversation = await get_row(session, Conversation, row.conversation_id)
            if conversation.thread_ts is None:
                raise Retry("the thread root is not posted yet", 1.0)
            facts = await card_facts(session, services.lines, conversation, services.clock.now())
        await services.slack.chat_update(
            channel=row.channel, ts=conversation.thread_ts, text=card_text(facts), blocks=card_blocks(facts)
        )
        return OpResult(conversation.thread_ts)


def card_ops() -> dict[str, Op]:
    """The outbox ops of conversations, by the name their rows give."""
    return {"post_root": PostRoot(), "update_card": UpdateCard()}
