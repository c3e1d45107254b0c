"""What each kind of outbox row does in Slack (see `bot.slack.outbox`)."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.carriers.base import CarrierError
from bot.services import Services
from bot.slack.outbox import Op, OpResult, Retry, post_metadata, slack_error
from storage.bulk import among
from storage.db import get_row
from storage.models import Conversation, Media, Message, SlackOutbox


class NoThread:
    """An op whose row belongs to no thread and records nothing once performed."""

    async def thread_of(self, services: Services, row: SlackOutbox) -> str | None:
        return None

    async def record(self, session: AsyncSession, row: SlackOutbox, result: OpResult) -> None:
        return None


async def conversation_of(services: Services, row: SlackOutbox) -> Conversation:
    """The conversation an outbox row is about, read now."""
    async with services.db.session() as session:
        return await get_row(session, Conversation, row.conversation_id)


async def _thread_ts(services: Services, row: SlackOutbox) -> str | None:
    if row.conversation_id is None:
        return (row.payload or {}).get("thread_ts")
    conversation = await conversation_of(services, row)
    if conversation.thread_ts is None:
        raise Retry("the thread root is not posted yet", 1.0)
    return conversation.thread_ts


async def _message_ts(services: Services, payload: dict, key: str) -> str | None:
    """`payload[key]`, or the ts of the message another outbox row posted (`payload.ref_outbox_id`)."""
    if payload.get(key) or not payload.get("ref_outbox_id"):
        return payload.get(key)
    async with services.db.session() as session:
        ref = await session.get(SlackOutbox, payload["ref_outbox_id"])
    return ref.result_ts if ref else None


class Post:
    """A message in a conversation thread (or in `payload.thread_ts`, or at channel level)."""

    async def thread_of(self, services: Services, row: SlackOutbox) -> str | None:
        return await _thread_ts(services, row)

    async def perform(self, services: Services, row: SlackOutbox) -> OpResult:
        payload = row.payload or {}
        kwargs = {
            "channel": row.channel,
            "text": payload.get("text", ""),
            "metadata": post_metadata(row),
            "unfurl_links": False,
            "unfurl_media": False,
        }
        thread_ts = await _thread_ts(services, row)
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if payload.get("blocks"):
            kwargs["blocks"] = payload["blocks"]
        resp = await services.slack.chat_postMessage(**kwargs)
        return OpResult(resp["ts"])

    async def record(self, session: AsyncSession, row: SlackOutbox, result: OpResult) -> None:
        await record_posted(session, row, result)


async def record_posted(session: AsyncSession, row: SlackOutbox, result: OpResult) -> None:
    """Note on the texts a post shows (`message_id`, or a folded post's `payload.message_ids`) where in
    Slack they are."""
    message_ids = (row.payload or {}).get("message_ids") or ([row.message_id] if row.message_id else [])
    if message_ids:  # one statement for a folded post's texts: the writer's turn is held while it runs
        await session.execute(
            update(Message)
            .where(among(session, Message.id, message_ids))
            .values(slack_channel=row.channel, slack_ts=result.ts)
        )


class React(NoThread):
    """Show a message's delivery state as a reaction on its Slack message, replacing the previous one."""

    async def perform(self, services: Services, row: SlackOutbox) -> OpResult:
        ts: str | None = row.payload.get("ts")
        if ts is None:  # queued before its message was posted: the post, done by now, recorded its ts
            async with services.db.session() as session:
                ts = (await get_row(session, Message, row.message_id)).slack_ts
        if not ts:
            return OpResult()  # nothing in Slack stands for this message (e.g. a campaign text)
        channel = row.channel  # the message's Slack channel, as the reaction was queued
        for old in row.payload.get("remove", ()):
            try:
                await services.slack.reactions_remove(channel=channel, timestamp=ts, name=old)
            except SlackApiError as exc:
                if slack_error(exc) != "no_reaction":  # the earlier reaction may never have been added
                    raise
        await services.slack.reactions_add(channel=channel, timestamp=ts, name=row.payload["name"])
        return OpResult(ts)


class Ephemeral(NoThread):
    """A message only one person sees (why their text was not sent, a command's answer)."""

    async def perform(self, services: Services, row: SlackOutbox) -> OpResult:
        payload = row.payload
        kwargs = {"channel": row.channel, "user": payload["user"], "text": payload["text"]}
        if payload.get("thread_ts"):
            kwargs["thread_ts"] = payload["thread_ts"]
        if payload.get("blocks"):
            kwargs["blocks"] = payload["blocks"]
        await services.slack.chat_postEphemeral(**kwargs)
        return OpResult()


class Update(NoThread):
    """Edit a message the bot posted earlier (progress messages, notification status)."""

    async def perform(self, services: Services, row: SlackOutbox) -> OpResult:
        payload = row.payload
        ts = await _message_ts(services, payload, "ts")
        if not ts:
            raise Retry("the message to update is not posted yet", 1.0)
        text = payload.get("text", "")
        blocks = payload.get("blocks")
        if payload.get("render"):
            rendered = await services.renderers[payload["render"]](services, payload["id"])
            # A renderer gives the text, or {"text", "blocks"} for a message with buttons.
            text, blocks = (
                (rendered["text"], rendered.get("blocks")) if isinstance(rendered, dict) else (rendered, None)
            )
        kwargs = {"channel": row.channel, "ts": ts, "text": text}
        if blocks:
            kwargs["blocks"] = blocks
        await services.slack.chat_update(**kwargs)
        return OpResult(ts)


class UploadMedia(NoThread):
    """Put an inbound MMS's pictures into the conversation thread (fetched with the carrier's credentials)."""

    async def perform(self, services: Services, row: SlackOutbox) -> OpResult:
        async with services.db.session() as session:
            message = await get_row(session, Message, row.message_id)
        thread_ts = await _thread_ts(services, row)
        uploads = []
        for index, item in enumerate(message.media or []):
            try:
                content, content_type = await services.carrier_for(message.line_id).fetch_media(item["url"])
            except CarrierError as exc:
                raise Retry(f"cannot fetch inbound media: {exc}") from None
            extension = content_type.split("/")[-1].split(";")[0] or "bin"
            uploads.append(
                {
                    "content": content,
                    "filename": f"mms-{message.id}-{index + 1}.{extension}",
                    "title": f"MMS from the customer ({content_type})",
                }
            )
        if uploads:
            await services.slack.files_upload_v2(channel=row.channel, thread_ts=thread_ts, file_uploads=uploads)
        return OpResult()


class UploadFile(NoThread):
    """Upload a file to a channel, in `payload.thread_ts` or in the thread of the message another outbox row
    posted (`payload.ref_outbox_id`): text in `payload.content` (a campaign's CSV), or bytes stored in the
    media table under `payload.media_id` (a report's chart)."""

    async def perform(self, services: Services, row: SlackOutbox) -> OpResult:
        payload = row.payload
        thread_ts = await _message_ts(services, payload, "thread_ts")
        if not thread_ts and payload.get("ref_outbox_id"):
            raise Retry("the thread to upload into is not posted yet", 1.0)
        content: str | bytes = payload.get("content", "")
        if payload.get("media_id"):
            async with services.db.session() as session:
                stored = await session.get(Media, payload["media_id"])
            content = stored.data if stored is not None else b""
        upload = {
            "content": content,
            "filename": payload["filename"],
            "title": payload.get("title") or payload["filename"],
        }
        kwargs: dict[str, Any] = {"channel": row.channel, "file_uploads": [upload]}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if payload.get("initial_comment"):
            kwargs["initial_comment"] = payload["initial_comment"]
        await services.slack.files_upload_v2(**kwargs)
        return OpResult(thread_ts)


def all_ops() -> dict[str, Op]:
    """The ops every outbox row may name, but those of the domains (the app adds theirs)."""
    return {
        "post": Post(),
        "react": React(),
        "ephemeral": Ephemeral(),
        "update": Update(),
        "upload_media": UploadMedia(),
        "upload_file": UploadFile(),
    }
