"""The consent state machine against a simple reference model (property-based)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.compliance import consent
from storage.models import ConsentEvent

LINES = (None, 1, 2)
event_spec = st.tuples(st.sampled_from(consent.ACTIONS), st.sampled_from(consent.SCOPES), st.sampled_from(LINES))


def reference(specs, purpose: str, line_id) -> str:
    """Replay events oldest first: each opt-in or opt-out that covers the purpose (and the line) sets the status;
    a lift undoes the opt-outs since the last opt-in (what held before them holds again)."""
    status, before_opt_outs = "unknown", "unknown"
    for action, scope, event_line in specs:
        covers_purpose = scope == "all" or scope == ("marketing" if purpose == "marketing" else "transactional")
        covers_line = event_line is None or event_line == line_id
        if not (covers_purpose and covers_line):
            continue
        if action == "opt_in":
            status = before_opt_outs = "opted_in"
        elif action == "opt_out":
            status = "opted_out"
        else:
            status = before_opt_outs
    return status


def as_events(specs) -> list[ConsentEvent]:
    """Ledger rows, newest first (as `consent.history` returns them)."""
    at = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [
        ConsentEvent(
            id=i + 1, phone="+14155550123", action=a, scope=s, line_id=ln, source="slack", evidence="", created_at=at
        )
        for i, (a, s, ln) in enumerate(specs)
    ]
    return rows[::-1]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(event_spec, max_size=12),
    st.sampled_from(["marketing", "transactional", "conversational"]),
    st.sampled_from((1, 2)),
)
def test_state_from_matches_the_reference_model(specs, purpose, line_id):
    events = [e for e in as_events(specs) if e.line_id in (line_id, None)]  # what history(line_id) selects
    state = consent.state_from(events, purpose)
    assert state.status == reference(specs, purpose, line_id)
    assert state.opted_out == (state.status == "opted_out")
    if state.status != "unknown":
        newest = events[[e.scope in consent.scopes_for(purpose) for e in events].index(True)]
        assert state.source == newest.source


@settings(max_examples=200, deadline=None)
@given(st.lists(event_spec, min_size=1, max_size=12))
def test_an_opt_out_of_all_is_final_until_an_opt_in(specs):
    """After an opt-out of scope all on every line, nothing is opted in until a later opt-in covers it."""
    specs = specs + [("opt_out", "all", None)]
    for purpose in ("marketing", "transactional"):
        for line_id in (1, 2):
            events = [e for e in as_events(specs) if e.line_id in (line_id, None)]
            assert consent.state_from(events, purpose).opted_out
