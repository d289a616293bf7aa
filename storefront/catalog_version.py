"""The catalog's version: one number bumped in the same transaction as any catalog change.

Web processes cache what the shop shows of the catalog (storefront/web/catalog_cache.py) and
compare this number once per page view, so a change committed by the admin (or a job, a
command, a test) shows on the next page view in every worker and on every machine.

The bump hooks every SQLAlchemy session: a flush that adds, changes or deletes a Category,
Product or Plan, and a bulk INSERT/UPDATE/DELETE on their tables, also runs
`UPDATE catalog_versions SET version = version + 1`. Raw SQL that bypasses the ORM must call
`bump(connection)` itself.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import DDL, Table, event, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session

from storefront.models import Category, CatalogVersion, Plan, Product

CATALOG_CLASSES = (Category, Product, Plan)
# A mapped class's __table__ is typed as any FromClause; a declarative model's is a Table.
_TABLE = cast(Table, CatalogVersion.__table__)
_ROW = 1

# The one row exists from the start: the migration inserts it, and so does create_all (tests, benches).
event.listen(_TABLE, "after_create", DDL(f"INSERT INTO catalog_versions (id, version) VALUES ({_ROW}, 0)"))


_READ = select(_TABLE.c.version).where(_TABLE.c.id == _ROW)  # built once: it runs on every catalog page view


def read(session: Session) -> int:
    """The committed version as this transaction sees it (0 if the row is missing)."""
    return read_on(session.connection())


def read_on(connection: Connection) -> int:
    """`read` on a Core connection (the guest page cache reads it outside any ORM session)."""
    return connection.execute(_READ).scalar() or 0


def bump(connection: Connection) -> None:
    result = connection.execute(update(_TABLE).where(_TABLE.c.id == _ROW).values(version=_TABLE.c.version + 1))
    if not result.rowcount:
        connection.execute(_TABLE.insert().values(id=_ROW, version=1))


def _touches_catalog(session: Session) -> bool:
    if any(isinstance(obj, CATALOG_CLASSES) for obj in (*session.new, *session.deleted)):
        return True
    return any(
        isinstance(obj, CATALOG_CLASSES) and session.is_modified(obj, include_collections=False)
        for obj in session.dirty
    )


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session: Session, flush_context, instances) -> None:
    if _touches_catalog(session):
        bump(session.connection())


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk(state: ORMExecuteState) -> None:
    if (
        (state.is_insert or state.is_update or state.is_delete)
        and state.bind_mapper is not None
        and state.bind_mapper.class_ in CATALOG_CLASSES
    ):
        bump(state.session.connection())
