"""Daily wall-clock windows like ``08:00-21:00``: the type, its checks, and how it is read from text.

Below both the settings (which validate the configured windows) and the compliance rules (which apply them)."""

from __future__ import annotations

import re
from datetime import time

Window = tuple[time, time]

_WINDOW_TEXT = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


def check_window(window: Window, what: str) -> Window:
    """`window` as a (start, end) pair of naive times with start < end; raise ValueError naming `what`."""
    try:
        start, end = window
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {window!r} is not a (start, end) pair of times") from None
    if not (isinstance(start, time) and isinstance(end, time)):
        raise ValueError(f"{what}: {window!r} is not a (start, end) pair of times")
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError(f"{what}: {window!r} must use naive (local wall-clock) times")
    if not start < end:
        raise ValueError(f"{what}: window {_fmt(window)!r} must start before it ends (same day)")
    return (start, end)


def _fmt(window: Window) -> str:
    return f"{window[0]:%H:%M}-{window[1]:%H:%M}"


def parse_window(text: str) -> Window:
    """Parse ``"08:00-21:00"`` into ``(time(8), time(21))``; raise ValueError quoting `text`."""
    match = _WINDOW_TEXT.fullmatch(text or "") if isinstance(text, str) else None
    if not match:
        raise ValueError(f"quiet hours {text!r} is not a window like '08:00-21:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"quiet hours {text!r} has a time outside 00:00-23:59")
    try:
        return check_window((time(h1, m1), time(h2, m2)), "quiet hours")
    except ValueError:
        raise ValueError(f"quiet hours {text!r} must start before it ends (same day)") from None
