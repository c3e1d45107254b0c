"""The example alert rules and Grafana dashboard in docs/: they parse, and name only metrics the service exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from bot.metrics import Metrics

DOCS = Path(__file__).resolve().parents[2] / "docs"
METRIC = re.compile(r"\bsms_bridge_[a-z0-9_]+")


def exported() -> set[str]:
    """Every sample name /metrics can show: counters' _total, histograms' _bucket, _sum and _count, gauges."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        if family.type == "counter":
            names |= {family.name + "_total"}
        elif family.type == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
        else:
            names.add(family.name)
    return names


def test_the_alert_rules_parse_and_name_exported_metrics():
    rules = [
        rule
        for group in yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    ]
    assert len(rules) >= 5
    for rule in rules:
        assert rule["alert"] and rule["expr"] and rule["annotations"]["summary"], rule
    named = {name for rule in rules for name in METRIC.findall(rule["expr"])}
    assert named and named <= exported(), named - exported()


def test_the_dashboard_parses_and_names_exported_metrics():
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert dashboard["title"] and exprs
    named = {name for expr in exprs for name in METRIC.findall(expr)}
    assert named <= exported(), named - exported()
    # Every metric the service exports is on the dashboard.
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in exported()}
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in named}
    assert families <= shown, families - shown
