"""What the whole test run counted: Block Kit payloads and Twilio and Telnyx requests checked, and each reliability
test's faults and losses. When pytest-xdist spreads the suite over worker processes, each worker sends its counts
to the controller as it finishes, and the controller prints the totals."""

from __future__ import annotations

import json
from collections import Counter

from tests.support import block_kit, telnyx_openapi, twilio_openapi

COUNTS: dict[str, Counter[str]] = {
    "block_kit": block_kit.CHECKED,
    "twilio": twilio_openapi.CHECKED,
    "telnyx": telnyx_openapi.CHECKED,
}
RELIABILITY_RUNS: list[dict] = []  # one entry per reliability test: its name and counts
_KEY = "sms_bridge_run_report"


def send_from_worker(config) -> None:
    """In an xdist worker: hand this worker's counts to the controller."""
    if hasattr(config, "workeroutput"):
        config.workeroutput[_KEY] = json.dumps(
            {"counts": {name: dict(counter) for name, counter in COUNTS.items()}, "runs": RELIABILITY_RUNS}
        )


def receive_from_worker(node) -> None:
    """In the controller: add a finished worker's counts to the run's."""
    report = json.loads(getattr(node, "workeroutput", {}).get(_KEY, "{}"))
    for name, counts in report.get("counts", {}).items():
        COUNTS[name].update(counts)
    RELIABILITY_RUNS.extend(report.get("runs", []))


def write_summary(terminalreporter) -> None:
    """The run's totals, at the end of pytest's output."""
    checked, twilio, telnyx = COUNTS["block_kit"], COUNTS["twilio"], COUNTS["telnyx"]
    if checked["payloads"]:
        terminalreporter.write_line(
            f"Block Kit: {checked['payloads']} payloads checked against slack_sdk's models, "
            f"{checked['violations']} refused"
        )
    if twilio["requests"]:
        terminalreporter.write_line(
            f"Twilio: {twilio['requests']} requests and {twilio['answers']} answers checked against Twilio's "
            f"OpenAPI description, {twilio['violations']} not as described"
        )
    if telnyx["requests"] or telnyx["webhooks"]:
        terminalreporter.write_line(
            f"Telnyx: {telnyx['requests']} requests, {telnyx['answers']} answers and {telnyx['webhooks']} webhooks "
            f"checked against Telnyx's OpenAPI description, {telnyx['violations']} not as described"
        )
    if RELIABILITY_RUNS:
        _write_reliability(terminalreporter)


def _write_reliability(terminalreporter) -> None:
    terminalreporter.section("reliability counts")
    totals: Counter = Counter()
    for run in sorted(RELIABILITY_RUNS, key=lambda run: run["test"]):
        terminalreporter.write_line(", ".join(f"{key}={value}" for key, value in run.items()))
        for key in ("crashes", "inputs", "lost", "duplicates"):
            totals[key] += run.get(key, 0)
        totals["faults"] += sum(dict(run.get("faults", {})).values())
    terminalreporter.write_line("total: " + ", ".join(f"{key}={value}" for key, value in totals.items()))
