"""Worker identities that tell whether the process holding a claim or a lease is still alive.

An identity is `host:pid:start`: the host (its name, and a digest of the kernel's boot id and the PID namespace),
the process id, and the process's start time (from /proc/<pid>/stat). A process on the same host can tell that a
holder is gone: its pid is not running, or is running with another start time (the pid was reused). A holder on
another host can never be judged from here: its claims and leases are waited out until they lapse, as before.
The hostname alone would not do: two machines may share one (and their root PID namespaces have the same number),
and a process there would look gone from here.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import uuid
from collections.abc import Iterable
from functools import cache

UNKNOWN_START = "?"  # no /proc here: nobody can be judged gone
BOOT_ID = "/proc/sys/kernel/random/boot_id"  # a random id the kernel draws at each boot


def _start_token(pid: int | str) -> str | None:
    """The start time of process `pid` in clock ticks since boot; None if no such process is running."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return UNKNOWN_START
    # After the command name: state is field 3 of the line, starttime field 22.
    if fields[0] in (b"Z", b"X"):  # killed, not reaped yet: gone all the same
        return None
    return fields[19].decode()


def host_identity(hostname: str, boot_id: str, pid_namespace: str) -> str:
    """`hostname/digest`: processes share it only under one running kernel (`boot_id`) and in one PID namespace,
    where a pid names the same process for all of them."""
    digest = hashlib.sha256(f"{boot_id}/{pid_namespace}".encode()).hexdigest()[:16]
    return f"{hostname[:60]}/{digest}"


@cache
def _host() -> str:
    try:
        with open(BOOT_ID) as boot:
            boot_id = boot.read().strip()
        namespace = os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:  # not Linux: a host of its own, which no other process shares (nobody is judged)
        boot_id, namespace = uuid.uuid4().hex, "?"
    return host_identity(socket.gethostname(), boot_id, namespace)


def worker_identity() -> str:
    """This process's identity, `host:pid:start`."""
    pid = os.getpid()
    return f"{_host()}:{pid}:{_start_token(pid) or UNKNOWN_START}"


def holder_gone(holder: str) -> bool:
    """True only when `holder` is a process of this host that is no longer running. Blocking (reads /proc)."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3:
        return False
    host, pid, start = parts
    if host != _host() or start == UNKNOWN_START or not pid.isdigit():
        return False
    running = _start_token(pid)
    return running != start and running != UNKNOWN_START


async def gone_among(holders: Iterable[str | None]) -> set[str]:
    """The holders among `holders` known to be gone (see `holder_gone`)."""
    candidates = {holder for holder in holders if holder}
    if not candidates:
        return set()
    return await asyncio.to_thread(lambda: {holder for holder in candidates if holder_gone(holder)})
