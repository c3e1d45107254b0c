"""Files people share in Slack threads: downloaded with the bot token, kept for the carrier to fetch."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession

from bot import media as media_store
from bot.services import Services

SLACK_FILE_HOSTS = {"files.slack.com", "slack-files.com"}


def slack_file_item(file: dict) -> dict:
    """How a shared Slack file is remembered on a queued message until it is downloaded."""
    return {
        "slack_file": {
            "id": file.get("id"),
            "name": file.get("name") or file.get("title") or "file",
            "mimetype": file.get("mimetype") or "application/octet-stream",
            "url": file.get("url_private_download") or file.get("url_private"),
        }
    }


def _allowed(services: Services, url: str | None) -> bool:
    # Only Slack's own file hosts (or the configured API host, e.g. an emulator) get our bot token.
    if not url:
        return False
    parts = urlsplit(url)
    hosts = SLACK_FILE_HOSTS | {urlsplit(str(services.slack.base_url)).netloc}
    return parts.scheme in ("https", "http") and parts.netloc in hosts


async def download(services: Services, url: str) -> bytes:
    """Fetch a private Slack file (at most the MMS size limit)."""
    if not _allowed(services, url):
        raise ValueError("file URL is not on a Slack file host")
    token = services.slack.token
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
            resp.raise_for_status()
            data = await resp.content.read(media_store.MAX_MEDIA_BYTES + 1)
    if len(data) > media_store.MAX_MEDIA_BYTES:
        raise ValueError("file is larger than the 5 MB MMS limit")
    return data


def has_slack_files(items: list[dict] | None) -> bool:
    """Whether a message's media still has files shared in Slack to download."""
    return any("slack_file" in item for item in items or [])


async def fetch_slack_files(services: Services, items: list[dict]) -> list[bytes]:
    """The bytes of each `slack_file` item, in order. Network only: call it with no transaction open."""
    return [await download(services, item["slack_file"]["url"]) for item in items if "slack_file" in item]


async def store_slack_files(session: AsyncSession, items: list[dict], contents: list[bytes]) -> list[dict]:
    """Replace `slack_file` items by stored media the carrier can fetch through `/media/{token}`; `contents`
    are their bytes, as `fetch_slack_files` returned them."""
    result, downloaded = [], iter(contents)
    for item in items:
        file = item.get("slack_file")
        if file is None:
            result.append(item)
            continue
        data = next(downloaded)
        stored = await media_store.store(session, data=data, content_type=file["mimetype"], filename=file["name"])
        result.append({"media_id": stored.id, "content_type": file["mimetype"], "name": file["name"]})
    return result
