"""The service's metrics, in Prometheus text format (prometheus_client).

What this process does is counted and timed as it happens: texts in and out, webhook answers, carrier and Slack
calls, the Slack outbox's lag and the sender's lag. What the database holds (messages and outbox rows by status,
the inbox's answer and resolution times) is read by a background refresh every `METRICS_REFRESH_SECONDS`, so a
scrape never scans a table; those figures are the same on every replica.

Each app has a registry of its own: a process that builds several apps (a test run) never mixes their counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from bot.lines import LineDirectory
from storage.db import Database
from storage.models import ConversationEvent, InboundText, Message, SlackOutbox

# Upper bounds (seconds) of the inbox histograms' buckets: a minute to three days.
INBOX_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600)
INBOX_HISTOGRAMS = {
    "first_answer": (
        "sms_bridge_time_to_first_answer_seconds",
        "From a customer's first waiting text of an open period to the first agent answer, per line.",
    ),
    "resolved": (
        "sms_bridge_time_to_resolve_seconds",
        "From a conversation's opening (or reopening) to its resolution, per line.",
    ),
}
# Webhook answers and remote calls: a millisecond to ten seconds.
CALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Queue lags: ten milliseconds to an hour.
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass
class _Snapshot:
    """The database's figures at the last refresh."""

    messages: list[tuple[str, str, int]] = field(default_factory=list)  # direction, status, count
    outbox: list[tuple[str, int]] = field(default_factory=list)  # status, count
    inbound: list[tuple[bool, int]] = field(default_factory=list)  # failed before, count
    # (kind, line label) -> (count, sum of seconds, cumulative counts per INBOX_BUCKETS bound)
    inbox: dict[tuple[str, str], tuple[int, float, list[int]]] = field(default_factory=dict)
    refreshed: bool = False


class _DatabaseFigures(Collector):
    """Yields the last snapshot's gauges and histograms at each scrape (no query)."""

    def __init__(self) -> None:
        self.snapshot = _Snapshot()

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        messages = GaugeMetricFamily(
            "sms_bridge_messages", "Messages stored, by direction and status.", labels=["direction", "status"]
        )
        for direction, status, count in snapshot.messages:
            messages.add_metric([direction, status], count)
        yield messages
        outbox = GaugeMetricFamily("sms_bridge_slack_outbox", "Slack outbox rows, by status.", labels=["status"])
        for status, count in snapshot.outbox:
            outbox.add_metric([status], count)
        yield outbox
        inbound = GaugeMetricFamily(
            "sms_bridge_inbound_texts_waiting",
            "Customer texts stored by their webhook and not yet taken into a conversation; failed: whether an "
            "attempt at taking them failed (the error is in inbound_texts).",
            labels=["failed"],
        )
        for failed, count in snapshot.inbound:
            inbound.add_metric(["true" if failed else "false"], count)
        yield inbound
        for kind, (name, help_text) in INBOX_HISTOGRAMS.items():
            family = HistogramMetricFamily(name, help_text, labels=["line"])
            for (row_kind, line), (count, total, cumulative) in sorted(snapshot.inbox.items()):
                if row_kind != kind:
                    continue
                buckets = [(str(bound), n) for bound, n in zip(INBOX_BUCKETS, cumulative, strict=True)]
                family.add_metric([line], buckets + [("+Inf", count)], total)
            yield family


class Metrics:
    """Every metric the service exports."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.texts_in = Counter(
            "sms_bridge_texts_in", "Customer texts stored, by line and carrier.", ["line", "carrier"], registry=registry
        )
        self.texts_out = Counter(
            "sms_bridge_texts_out",
            "Sends the carrier answered, by line, carrier, outcome (sent, failed, retried, unknown) and the "
            "carrier's error code (empty when none).",
            ["line", "carrier", "status", "error_code"],
            registry=registry,
        )
        self.http_answers = Counter(
            "sms_bridge_http_answers",
            "HTTP answers (webhooks, the API, health), by route and status code.",
            ["route", "status"],
            registry=registry,
        )
        self.http_answer_time = Histogram(
            "sms_bridge_http_answer_seconds",
            "From a request's arrival to its answer (for a webhook: its acknowledgement), by route.",
            ["route"],
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self.carrier_call = Histogram(
            "sms_bridge_carrier_call_seconds",
            "One send call to the carrier, by carrier.",
            ["carrier"],
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self.slack_call = Histogram(
            "sms_bridge_slack_call_seconds",
            "The Slack calls of one outbox row, by the row's kind.",
            ["op"],
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self.outbox_lag = Histogram(
            "sms_bridge_outbox_lag_seconds",
            "From a Slack outbox row's creation to its being done in Slack.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.send_lag = Histogram(
            "sms_bridge_send_lag_seconds",
            "From a text's due time to the carrier taking it.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self._figures = _DatabaseFigures()
        registry.register(self._figures)

    def render(self) -> bytes:
        """Everything, in Prometheus text format 0.0.4."""
        return generate_latest(self.registry)

    @property
    def refreshed(self) -> bool:
        """Whether the database's figures have been read at least once."""
        return self._figures.snapshot.refreshed

    async def refresh(self, db: Database, lines: LineDirectory) -> None:
        """Read the database's figures (run in the background, never by a scrape)."""
        async with db.session() as session:
            messages = (
                await session.execute(
                    select(Message.direction, Message.status, func.count()).group_by(Message.direction, Message.status)
                )
            ).all()
            outbox = (
                await session.execute(select(SlackOutbox.status, func.count()).group_by(SlackOutbox.status))
            ).all()
            inbox = (await session.execute(_inbox_query())).all()
            failed = InboundText.attempts > 0
            inbound = (await session.execute(select(failed, func.count()).group_by(failed))).all()
        figures: dict[tuple[str, str], tuple[int, float, list[int]]] = {}
        for row in inbox:
            known = lines.by_id(row[1])
            label = known.config.key if known else str(row[1])
            figures[(row[0], label)] = (row[2], float(row[3]), [int(n or 0) for n in row[4:]])
        self._figures.snapshot = _Snapshot(
            messages=[(str(d), str(s), n) for d, s, n in messages],
            outbox=[(str(s), n) for s, n in outbox],
            inbound=[(bool(f), n) for f, n in inbound],
            inbox=figures,
            refreshed=True,
        )


def _inbox_query():
    """Time to first answer and time to resolve per line, with cumulative bucket counts."""
    buckets = [func.sum(case((ConversationEvent.seconds <= bound, 1), else_=0)) for bound in INBOX_BUCKETS]
    return (
        select(
            ConversationEvent.kind,
            ConversationEvent.line_id,
            func.count(),
            func.coalesce(func.sum(ConversationEvent.seconds), 0.0),
            *buckets,
        )
        .where(ConversationEvent.kind.in_(list(INBOX_HISTOGRAMS)), ConversationEvent.seconds.is_not(None))
        .group_by(ConversationEvent.kind, ConversationEvent.line_id)
    )
