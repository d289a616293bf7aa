"""Bulk INSERT, UPDATE and DELETE statements run through a session, with their row count typed.

`Session.execute` is annotated to return `Result`, but for these statements SQLAlchemy returns a
`CursorResult`, the class that carries `rowcount`. The cast is made here once, not at each caller.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable


def execute_dml(session: Session, statement: Executable) -> CursorResult[Any]:
    """Execute `statement` (an INSERT, UPDATE or DELETE) in `session`; its `rowcount` says how many rows it hit."""
    return cast("CursorResult[Any]", session.execute(statement))
