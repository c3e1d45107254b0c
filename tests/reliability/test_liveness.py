"""A worker identity tells a process of the same host whether the holder of a claim is still running."""

from __future__ import annotations

import asyncio
import os
import socket
import sys

from bot.liveness import BOOT_ID, gone_among, holder_gone, host_identity, worker_identity


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


def test_a_machine_of_the_same_hostname_is_another_host():
    # Another machine named like this one, in its root PID namespace (whose number is the same on every Linux
    # machine), holding a claim under a pid that runs nothing here: it must not look gone from here.
    with open(BOOT_ID) as boot:
        this_boot = boot.read().strip()
    namespace = os.readlink("/proc/self/ns/pid").strip("pid:[]")
    me = worker_identity()
    assert me.rsplit(":", 2)[0] == host_identity(socket.gethostname(), this_boot, namespace)
    pid = 2**22 + 1  # above Linux's pid_max: never a process here
    elsewhere = host_identity(socket.gethostname(), "another machine's boot id", namespace)
    assert not holder_gone(f"{elsewhere}:{pid}:12345")
    assert holder_gone(f"{host_identity(socket.gethostname(), this_boot, namespace)}:{pid}:12345")
