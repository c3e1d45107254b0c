"""Worker identities that tell whether the process holding a claim or a lease is still alive.

An identity is `host:pid:start`: the host (its name and PID namespace), the process id, and the process's start
time (from /proc/<pid>/stat). A process on the same host can tell that a holder is gone: its pid is not running,
or is running with another start time (the pid was reused). A holder on another host can never be judged from
here: its claims and leases are waited out until they lapse, as before.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterable
from functools import cache

UNKNOWN_START = "?"  # no /proc here: nobody can be judged gone


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


@cache
def _host() -> str:
    try:
        namespace = os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:
        namespace = "?"
    return f"{socket.gethostname()}/{namespace}"


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
