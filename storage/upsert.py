"""INSERT … ON CONFLICT DO NOTHING that SQLAlchemy compiles once per shape, not at every execution.

SQLAlchemy 2.0's PostgreSQL and SQLite INSERT constructs stay out of its compiled-statement cache
(sqlalchemy/sqlalchemy#10445), so every execution compiled the statement again: about a millisecond of CPU
each time, on every agent's reply, inbound text and campaign batch. Here the DO NOTHING clause has a cache key
made of all it renders (its constraint's name, its target columns' names, the target's WHERE). A DO UPDATE
clause keeps having none, so a statement carrying one is still compiled every time: its SET values are bound
while it is compiled, and a cached statement would send the first execution's values again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import dml as postgresql_dml
from sqlalchemy.dialects.sqlite import dml as sqlite_dml
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.visitors import InternalTraversal

# What the compilers render of a DO NOTHING clause, as its cache key.
_DO_NOTHING_KEY = [
    ("constraint_target", InternalTraversal.dp_string),
    ("target_names", InternalTraversal.dp_string_list),
    ("inferred_target_whereclause", InternalTraversal.dp_clauseelement),
]


def _column_names(elements) -> tuple[str, ...]:
    """The names of an ON CONFLICT target's columns (given as names, columns or mapped attributes)."""
    names = []
    for element in elements or ():
        column = element if isinstance(element, str) else coercions.expect(roles.DDLConstraintColumnRole, element)
        if isinstance(column, str):
            names.append(column)
        elif isinstance(column, Column):
            names.append(column.name)
        else:
            raise TypeError(f"an ON CONFLICT target here is a column or a column's name, not {element!r}")
    return tuple(names)


class _PostgresDoNothing(postgresql_dml.OnConflictDoNothing):
    _traverse_internals = _DO_NOTHING_KEY

    def __init__(self, constraint=None, index_elements=None, index_where=None) -> None:
        super().__init__(constraint, index_elements, index_where)
        self.target_names = _column_names(self.inferred_target_elements)


class _SqliteDoNothing(sqlite_dml.OnConflictDoNothing):
    _traverse_internals = _DO_NOTHING_KEY

    def __init__(self, index_elements=None, index_where=None) -> None:
        super().__init__(index_elements, index_where)
        self.constraint_target = None
        self.target_names = _column_names(self.inferred_target_elements)


class _PostgresDoUpdate(postgresql_dml.OnConflictDoUpdate):
    inherit_cache = False  # see the module's docstring


class _SqliteDoUpdate(sqlite_dml.OnConflictDoUpdate):
    inherit_cache = False  # see the module's docstring


class PostgresInsert(postgresql_dml.Insert):
    """PostgreSQL's INSERT, kept in the statement cache when its ON CONFLICT clause is DO NOTHING."""

    inherit_cache = True

    def on_conflict_do_nothing(self, constraint=None, index_elements=None, index_where=None) -> Any:
        statement = super().on_conflict_do_nothing(constraint, index_elements, index_where)
        statement._post_values_clause = _PostgresDoNothing(constraint, index_elements, index_where)
        return statement

    def on_conflict_do_update(
        self, constraint=None, index_elements=None, index_where=None, set_=None, where=None
    ) -> Any:
        statement = super().on_conflict_do_update(constraint, index_elements, index_where, set_, where)
        statement._post_values_clause = _PostgresDoUpdate(constraint, index_elements, index_where, set_, where)
        return statement


class SqliteInsert(sqlite_dml.Insert):
    """SQLite's INSERT, kept in the statement cache when its ON CONFLICT clause is DO NOTHING."""

    inherit_cache = True

    def on_conflict_do_nothing(self, index_elements=None, index_where=None) -> Any:
        statement = super().on_conflict_do_nothing(index_elements, index_where)
        statement._post_values_clause = _SqliteDoNothing(index_elements, index_where)
        return statement

    def on_conflict_do_update(self, index_elements=None, index_where=None, set_=None, where=None) -> Any:
        statement = super().on_conflict_do_update(index_elements, index_where, set_, where)
        statement._post_values_clause = _SqliteDoUpdate(index_elements, index_where, set_, where)
        return statement
