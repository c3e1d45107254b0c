"""A server process started ahead of need: it loads every module, then waits for a line on stdin before it reads
its settings and serves, as `python -m bot.cli serve` would. A crash test starts the successor of the process it
is about to kill this way, so each restart costs the start of a server, not the import of its libraries."""

from __future__ import annotations

import sys

import bot.app  # noqa: F401 - imported ahead: the point of a standby process
from bot import cli

if __name__ == "__main__":
    sys.stdin.readline()
    sys.exit(cli.main(["serve"]))
