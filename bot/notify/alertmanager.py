"""Prometheus Alertmanager webhooks (payload version 4): route an alert group to a team, page it once.

A firing group pages once: while its page is not resolved, Alertmanager's resends (`repeat_interval`, retried
deliveries, alerts joining the group) page nobody again. When the group resolves, its page is closed and whoever
was texted for it gets one "Resolved" text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bot.compliance.segments import analyze
from bot.notify import service
from bot.notify.service import Created, NotifyError, Target
from bot.services import Services

STATUSES = ("firing", "resolved")
REQUIRED = {
    "version": str,
    "groupKey": str,
    "status": str,
    "receiver": str,
    "groupLabels": dict,
    "commonLabels": dict,
    "commonAnnotations": dict,
    "alerts": list,
}


class AlertPayloadError(NotifyError):
    """The body is not an Alertmanager version 4 webhook payload; the message names the field."""


class NoRoute(NotifyError):
    """Neither the receiver nor any label maps to a group, and there is no default group."""


@dataclass(frozen=True)
class AlertGroup:
    payload: dict[str, Any]

    @property
    def status(self) -> str:
        return self.payload["status"]

    @property
    def alerts(self) -> list[dict]:
        return self.payload["alerts"]


def validate(payload: Any) -> AlertGroup:
    if not isinstance(payload, dict):
        raise AlertPayloadError("body must be a JSON object (an Alertmanager webhook payload)")
    for name, kind in REQUIRED.items():
        if name not in payload:
            raise AlertPayloadError(f"missing field {name!r}")
        if not isinstance(payload[name], kind):
            raise AlertPayloadError(f"field {name!r} must be a {'string' if kind is str else kind.__name__}")
    if payload["version"] != "4":
        raise AlertPayloadError(f'unsupported payload version {payload["version"]!r}: this receiver reads version "4"')
    if payload["status"] not in STATUSES:
        raise AlertPayloadError(f"field 'status' must be firing or resolved, got {payload['status']!r}")
    if not payload["alerts"]:
        raise AlertPayloadError("field 'alerts' is empty")
    for i, alert in enumerate(payload["alerts"]):
        if not isinstance(alert, dict):
            raise AlertPayloadError(f"alerts[{i}] must be an object")
        for name, kind in (("status", str), ("labels", dict), ("annotations", dict), ("startsAt", str)):
            if not isinstance(alert.get(name), kind):
                raise AlertPayloadError(
                    f"alerts[{i}].{name} is missing or not a {'string' if kind is str else 'object'}"
                )
        if alert["status"] not in STATUSES:
            raise AlertPayloadError(f"alerts[{i}].status must be firing or resolved, got {alert['status']!r}")
    return AlertGroup(payload)


def route(services: Services, group: AlertGroup) -> str:
    """The team for an alert group: the receiver's route, else a route named by a label value, else the default."""
    routes = services.settings.notify.alertmanager_routes
    payload = group.payload
    if payload["receiver"] in routes:
        return routes[payload["receiver"]]
    for labels in (payload["groupLabels"], payload["commonLabels"], *(a["labels"] for a in group.alerts)):
        for value in labels.values():
            if isinstance(value, str) and value in routes:
                return routes[value]
    default = services.settings.notify.alertmanager_default_group
    if default:
        return default
    raise NoRoute(f"no alertmanager route for receiver {payload['receiver']!r} or its labels, and no default_group")


def dedupe_key(group: AlertGroup) -> str:
    alerts = sorted(
        (str(a.get("fingerprint") or json.dumps(a["labels"], sort_keys=True)), a["startsAt"]) for a in group.alerts
    )
    raw = json.dumps([group.payload["groupKey"], group.status, alerts], separators=(",", ":"))
    return "am:" + hashlib.sha256(raw.encode()).hexdigest()


def _one_segment(head: str, detail: str, tail: str = "") -> str:
    """head + " - " + detail + tail, the detail (then the head) shortened with "..." until it fits one segment."""

    def build(h: str, d: str) -> str:
        return h + (f" - {d}" if d else "") + tail

    text = build(head, detail)
    if analyze(text).segments <= 1:
        return text
    cut = detail[:160]
    while cut:
        cut = cut[:-1].rstrip()
        candidate = build(head, cut + "..." if cut else "")
        if analyze(candidate).segments <= 1:
            return candidate
    while analyze(text := build(head, "")).segments > 1 and len(head) > 20:
        head = head[:-4].rstrip() + "..."
    return text


def summary(group: AlertGroup) -> tuple[str, str]:
    """The head ("[FIRING:2] HighLatency api (prod)") and detail (the summary annotation) of a group."""
    payload = group.payload
    matching = [a for a in group.alerts if a["status"] == group.status] or group.alerts
    labels = {**payload["commonLabels"], **payload["groupLabels"]}
    name = labels.get("alertname") or matching[0]["labels"].get("alertname") or "alert"
    extras = [str(v) for k, v in payload["groupLabels"].items() if k != "alertname" and v]
    head = f"[{group.status.upper()}:{len(matching)}] {name}"
    if extras:
        head += " " + extras[0] + (f" ({', '.join(extras[1:])})" if len(extras) > 1 else "")
    notes = payload["commonAnnotations"] if payload["commonAnnotations"] else matching[0]["annotations"]
    detail = " ".join(str(notes.get("summary") or notes.get("description") or "").split())
    return head, detail


def sms_text(group: AlertGroup, number: int) -> str:
    """E.g. "Page 12: [FIRING:2] HighLatency api (prod) - p99 above 2s on api" and the ACK line, in one segment
    where possible."""
    head, detail = summary(group)
    return _one_segment(f"Page {number}: {head}", detail, f"\nReply ACK {number}")


def resolved_text(group: AlertGroup, number: int) -> str:
    head, detail = summary(group)
    return _one_segment(f"Resolved: page {number}: {head}", detail)


def slack_text(group: AlertGroup, sms: str) -> str:
    """The longer Slack version: the SMS text, then each alert's summary and links."""
    payload = group.payload
    lines = [sms]
    for alert in group.alerts[:10]:
        summary = alert["annotations"].get("summary") or alert["annotations"].get("description") or ""
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()) if k != "alertname")
        lines.append(f"{alert['status']}: {labels}" + (f" — {summary}" if summary else ""))
    if len(group.alerts) > 10:
        lines.append(f"... and {len(group.alerts) - 10} more")
    if payload.get("truncatedAlerts"):
        lines.append(f"({payload['truncatedAlerts']} alerts truncated by Alertmanager)")
    if isinstance(payload.get("externalURL"), str) and payload["externalURL"]:
        lines.append(f"Alertmanager: {payload['externalURL']}")
    return "\n".join(lines)


async def receive(services: Services, payload: Any) -> Created | None:
    """A firing group pages the routed team once (until resolved); a resolved group closes its page and texts
    "Resolved" to whoever was texted for it (None: a resolved group that never paged anybody)."""
    group = validate(payload)
    team = route(services, group)
    key = payload["groupKey"]
    if group.status == "resolved":
        return await service.resolve_alert_group(services, key, lambda number: resolved_text(group, number))
    earlier = await service.unresolved_alert_page(services, key)
    if earlier is not None:
        return earlier
    target = Target("group", team)
    members = await service.resolve(services, target)
    return await service.create(
        services,
        target=target,
        members=members,
        text=slack_text(group, " - ".join(p for p in summary(group) if p)),
        sms_body=lambda number: sms_text(group, number),
        source="alertmanager",
        line=service.paging_line(services),
        channel=service.default_channel(services),
        created_by=f"alertmanager:{payload['receiver']}"[:64],
        idempotency_key=dedupe_key(group),
        group_key=key,
        alert_status=group.status,
    )
