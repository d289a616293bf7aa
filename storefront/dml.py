"""Bulk INSERT, UPDATE and DELETE statements run through a session, with their row count typed, and
`write_through` for a hot path's few changed rows.

`Session.execute` is annotated to return `Result`, but for these statements SQLAlchemy returns a
`CursorResult`, the class that carries `rowcount`. The cast is made here once, not at each caller.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import bindparam, inspect, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import ColumnProperty, Session
from sqlalchemy.sql import Executable


def execute_dml(session: Session, statement: Executable) -> CursorResult[Any]:
    """Execute `statement` (an INSERT, UPDATE or DELETE) in `session`; its `rowcount` says how many rows it hit."""
    return cast("CursorResult[Any]", session.execute(statement))


def write_through(session: Session, *objects: Any) -> None:
    """Send each object's changed columns now, as one UPDATE by primary key, and leave it clean.

    For a hot path whose few changed rows are known (a renewal's settlement: the Attempt, the
    Charge, the Subscription): the unit of work's flush sorts mappers and runs every
    relationship's dependency step whatever changed. This sends the same UPDATEs on the
    session's connection, each statement built once per table and set of columns, and marks the
    objects as the flush would. An object with a changed relationship, a new or deleted one, or
    a catalog row (whose flush bumps the catalog version) goes through `session.flush()` as
    usual. Never commits.
    """
    from storefront.catalog_version import CATALOG_CLASSES  # imports the models, which use this module

    fallback = False
    connection = None
    for obj in objects:
        state = inspect(obj)
        if not state.persistent or state.deleted or isinstance(obj, CATALOG_CLASSES):
            fallback = True
            continue
        if not state.modified:
            continue
        mapper = state.mapper
        values: dict[str, Any] = {}
        for key in state.committed_state:
            prop = mapper.attrs.get(key)
            if not isinstance(prop, ColumnProperty) or len(prop.columns) != 1:
                values = {}
                fallback = True
                break
            values[prop.columns[0].key] = state.dict.get(key)
        if not values:
            continue
        (ident,) = state.identity
        if connection is None:
            connection = session.connection()
        connection.execute(_update_by_key(mapper.local_table, tuple(sorted(values))), {**values, "_key": ident})
        # What the flush does to a row it has written: its loaded values become the committed ones.
        state._commit_all(state.dict, session.identity_map)  # noqa: SLF001
    if fallback:
        session.flush()


_UPDATES: dict[tuple[Any, tuple[str, ...]], Any] = {}


def _update_by_key(table: Any, columns: tuple[str, ...]) -> Any:
    """``UPDATE table SET c1 = :c1, ... WHERE pk = :_key``, built once per table and columns."""
    statement = _UPDATES.get((table, columns))
    if statement is None:
        (pk,) = table.primary_key.columns
        statement = update(table).where(pk == bindparam("_key")).values({name: bindparam(name) for name in columns})
        _UPDATES[(table, columns)] = statement
    return statement
