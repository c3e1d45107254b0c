"""A carrier is one package under bot/carriers/<name>/: nothing else in the service names a carrier, so that adding
one touches its package, the registry and settings (docs/development.md, "Adding a carrier")."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMES = re.compile(r"twilio|telnyx", re.IGNORECASE)
# The few places that may name a carrier, and why.
ALLOWED = {
    "bot/carriers/__init__.py": "the registry: builds each carrier from its settings",
    "bot/carriers/simulator.py": "the simulator speaks Twilio's wire format (its webhooks, with its own token)",
    "bot/settings.py": "the environment variables' names (TWILIO_*, TELNYX_*) and the values of SMS_PROVIDER",
    "bot/cli.py": "`simulate inbound` posts a simulator (Twilio-format) webhook, as the playground does",
    "bot/local/playground.py": "local mode's phone posts simulator (Twilio-format) webhooks",
    "bot/compliance/segments.py": "comments: the segment counting matches Twilio's published calculator",
    "bot/notify/service.py": "a comment on the SMS body limit",
    "storage/models/core.py": "a comment giving an example of an idempotency key",
}


def test_only_carrier_packages_name_a_carrier():
    offenders = []
    for folder in ("bot", "handlers", "storage"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(("bot/carriers/twilio/", "bot/carriers/telnyx/")) or relative in ALLOWED:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if NAMES.search(line):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, "a carrier is named outside bot/carriers/<name>/:\n" + "\n".join(offenders)


def test_the_allowed_files_exist():
    """The allow list stays short and true: each entry is a file of the project."""
    assert all((ROOT / name).is_file() for name in ALLOWED)
