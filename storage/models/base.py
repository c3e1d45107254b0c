"""Declarative base, shared column types and the clock every model uses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import JSON, DateTime, MetaData, String, Table, TypeDecorator, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute

from storage.states import Flow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores aware UTC datetimes and always returns them aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class State(TypeDecorator):
    """A state column: stored as its plain string, written only as a member of its flow's enum, read back as one."""

    impl = String
    cache_ok = True

    def __init__(self, flow: Flow, length: int) -> None:
        super().__init__(length)
        self.flow = flow
        self._members = {state.value: state for state in flow.states}

    def process_bind_param(self, value, dialect):
        return None if value is None else self.flow.state(value).value

    def process_result_value(self, value, dialect):
        # A value this version does not know (written by a newer replica) is handed over as it is.
        return None if value is None else self._members.get(value, value)


def follow(attribute: InstrumentedAttribute, flow: Flow) -> None:
    """Check every assignment to a model's state attribute against its flow: a move the flow does not allow
    raises IllegalTransition. A new row may start in any state; an attribute not loaded is not checked."""

    def check(_target, value, old, _initiator):
        return flow.check(old if isinstance(old, str) else None, value)

    event.listen(attribute, "set", check, retval=True)


JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Every model here is mapped to a Table (DeclarativeBase types it as the wider FromClause).
    __table__: ClassVar[Table]
