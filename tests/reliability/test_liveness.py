"""A worker identity tells a process of the same host whether the holder of a claim is still running."""

from __future__ import annotations

import asyncio
import sys

from bot.liveness import gone_among, holder_gone, worker_identity


async def test_a_killed_process_is_gone_a_running_one_and_another_host_are_not():
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from bot.liveness import worker_identity; print(worker_identity(), flush=True); sys.stdin.read()",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    holder = (await child.stdout.readline()).decode().strip()
    me = worker_identity()
    host, pid, start = holder.rsplit(":", 2)
    assert pid == str(child.pid) and host == me.rsplit(":", 2)[0]
    assert not holder_gone(holder) and not holder_gone(me)
    assert holder_gone(f"{host}:{pid}:{int(start) + 1}")  # the same pid started at another time: reused
    child.kill()
    await child.wait()
    other_host = f"elsewhere/1:{pid}:{start}"
    assert await gone_among([holder, me, other_host, None, "not an identity"]) == {holder}
