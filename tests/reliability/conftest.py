"""Reliability: faults and crashes injected from outside a running `sms-bridge serve` process, counted at the
Slack and Twilio emulators. Each test records its counts (tests/support/run_report.py); they are printed at the
end of the run (the README's reliability table is made from them)."""

from __future__ import annotations

import pytest

from tests.support.replicas import Replica, replica_env
from tests.support.run_report import RELIABILITY_RUNS


@pytest.fixture
def report(request):
    """report(faults=Counter, crashes=int, inputs=int, lost=int, duplicates=int, **details): keep a test's counts."""

    def record(**counts) -> None:
        RELIABILITY_RUNS.append({"test": request.node.name, **counts})

    return record


@pytest.fixture
async def serve(tmp_path, slack, twilio):
    """Factory: start an `sms-bridge serve` process on `url` with `config` (and `env`), against this test's
    emulators, and wait until it is ready. Every process started is stopped at the end of the test."""
    started: list[Replica] = []

    async def start(
        url: str, config: str, *, port: int | None = None, env: dict | None = None, standby: bool = False
    ) -> Replica:
        """`env`: settings of the process beyond the emulators' (e.g. RECONCILE_WINDOW_SECONDS). `standby`: the
        process is loaded, and serves (and is waited for) only once `Replica.activate` is called."""
        config_path = tmp_path / "sms-bridge.toml"
        config_path.write_text(config)
        env = {**replica_env(database_url=url, slack=slack, twilio=twilio, config_path=config_path), **(env or {})}
        replica = Replica(env, tmp_path / f"server{len(started)}.log", port=port)
        started.append(replica)
        await replica.start(standby=standby)
        if not standby:
            await replica.ready()
        return replica

    yield start
    for replica in started:
        if replica.waiting:
            replica.kill()
            await replica.process.wait()
        await replica.stop()
