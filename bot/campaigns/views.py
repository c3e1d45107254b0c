"""How campaigns look in Slack: the preview with its Approve/Cancel buttons, and the progress message."""

from __future__ import annotations

from datetime import datetime

from bot.campaigns.audience import SKIP_REASONS
from bot.lines import KnownLine
from storage.models.campaigns import Campaign, CampaignEvent
from storage.states import CampaignState


def preview_text(campaign: Campaign, line: KnownLine) -> str:
    p = campaign.preview
    skipped = ", ".join(f"{SKIP_REASONS[k]} {v}" for k, v in sorted(p.get("skipped", {}).items())) or "none"
    sample = p.get("sample") or {}
    when = "as soon as approved" if campaign.send_at is None else f"at {campaign.send_at:%Y-%m-%d %H:%M} UTC"
    lines = [
        f"*Campaign #{campaign.id}: {campaign.name}* ({campaign.purpose}, from {line.config.key}, {when})",
        f"Audience `{campaign.audience}`: {p.get('audience', 0)} contacts, *{p.get('eligible', 0)} eligible*",
        f"Skipped: {skipped}",
    ]
    if sample:
        lines += [
            f"Sample ({sample['encoding']}, {sample['characters']} characters, {sample['segments']} segment(s)):",
            "> " + sample["text"].replace("\n", "\n> "),
        ]
    lines += [
        f"Total {p.get('total_segments', 0)} segments, estimated cost {p.get('cost', '$0.00')} ({_prices(p)})",
        f"First send {_fmt(p.get('first_send'))}, last send {_fmt(p.get('last_send'))} "
        f"(quiet hours and {p.get('mps', line.config.mps):g} msg/s)",
        f"Created by <@{campaign.created_by}>. Needs approval by an approver other than the creator.",
    ]
    return "\n".join(lines)


def _prices(p: dict) -> str:
    """Which list prices the estimate used, and what it could not price."""
    prices = p.get("prices")
    if prices is None:  # a preview stored before prices were per country
        return f"at ${p.get('price_per_segment', 0.0083)}/segment, a list-price estimate"
    used = ", ".join(f"{country} ${price}/segment" for country, price in prices.items()) or "no priced country"
    text = f"list prices of {p.get('prices_as_of', '')}: {used}"
    unpriced = p.get("unpriced_segments") or {}
    if unpriced:
        text += "; not estimated, no price on record: " + ", ".join(
            f"{n} segment{'s' if n != 1 else ''} to {country}" for country, n in unpriced.items()
        )
    return text


def _fmt(iso: str | None) -> str:
    return f"{datetime.fromisoformat(iso):%Y-%m-%d %H:%M:%S} UTC" if iso else "n/a"


def preview_blocks(
    campaign: Campaign, line: KnownLine, *, buttons: bool = True, footer: str | None = None
) -> list[dict]:
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": preview_text(campaign, line)[:2900]}}]
    if buttons:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"campaign_{campaign.id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "campaign_approve",
                        "style": "primary",
                        "value": str(campaign.id),
                        "text": {"type": "plain_text", "text": "Approve"},
                    },
                    {
                        "type": "button",
                        "action_id": "campaign_cancel",
                        "style": "danger",
                        "value": str(campaign.id),
                        "text": {"type": "plain_text", "text": "Cancel"},
                    },
                ],
            }
        )
    if footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    return blocks


def progress_text(campaign: Campaign, c: dict[str, int], *, done: bool = False) -> str:
    total = max(campaign.preview.get("audience", 0), c.get("queued_total", 0) + sum((campaign.skipped or {}).values()))
    finished = c.get("sent", 0) + c.get("failed_unsent", 0) + c.get("skipped", 0) + c.get("cancelled", 0)
    finished = min(total, finished) if total else finished
    fraction = 1.0 if done else (finished / total if total else 0.0)
    bar = "█" * round(fraction * 20) + "░" * (20 - round(fraction * 20))
    head = {
        CampaignState.COMPLETED: ":checkered_flag: completed",
        CampaignState.CANCELLED: ":no_entry_sign: cancelled",
        CampaignState.PAUSED: ":double_vertical_bar: paused",
    }.get(campaign.state, ":rocket: running")
    return (
        f"*Campaign #{campaign.id} {campaign.name}* — {head}\n`{bar}` {fraction:.0%}\n"
        f"sent {c.get('sent', 0)} · delivered {c.get('delivered', 0)} · failed {c.get('failed', 0)} · "
        f"skipped {c.get('skipped', 0)} · deferred {c.get('deferred', 0)}"
        + (f" · held {c['held']}" if c.get("held") else "")
        + (f" · cancelled {c['cancelled']}" if c.get("cancelled") else "")
    )


def progress_blocks(text: str) -> list[dict]:
    """The progress message's Block Kit: its text in one section."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def completion_text(campaign: Campaign, c: dict[str, int]) -> str:
    """The post that says a campaign is done, with its counts."""
    return (
        f":checkered_flag: Campaign #{campaign.id} {campaign.name} completed: "
        f"sent {c.get('sent', 0)}, "
        f"delivered {c.get('delivered', 0)}, failed {c.get('failed', 0)}, skipped {c.get('skipped', 0)}. "
        "Its full report follows."
    )


def campaign_list(campaigns: list[Campaign]) -> str:
    """`/sms campaign list`: one line per campaign."""
    if not campaigns:
        return "No campaigns yet. `/sms campaign` creates one."
    return "\n".join(
        f"#{c.id} *{c.name}* — {c.state}, to `{c.audience}`, {c.purpose}, by <@{c.created_by}>" for c in campaigns
    )


def campaign_details(campaign: Campaign, line: KnownLine, events: list[CampaignEvent]) -> str:
    """`/sms campaign show ID`: state, preview, progress and the audit trail."""
    text = [
        f"State: *{campaign.state}*",
        preview_text(campaign, line)
        if campaign.preview
        else f"*Campaign #{campaign.id}: {campaign.name}* (preview not computed yet)",
    ]
    if campaign.progress_text:
        text.append(campaign.progress_text)
    text.append("Audit trail:")
    text += [
        f"• {e.created_at:%Y-%m-%d %H:%M:%S} UTC <@{e.actor}> {e.action}"
        + (f" ({e.from_state} → {e.to_state})" if e.to_state else "")
        + (f": {e.detail}" if e.detail else "")
        for e in events
    ]
    return "\n".join(text)
