"""Retention of the AuditLog: rows are kept two years, then purged by a daily job.

The AuditLog (every opening of a billing key, every admin view of personal data) is
append-only: nothing in the application updates or deletes its rows except
`purge_audit_log`, which deletes only rows older than the retention period
(개인정보의 안전성 확보조치 기준: access records kept at least two years). No Flask in here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from storefront.dml import execute_dml
from storefront.models import AuditLog

RETENTION_YEARS = 2


def retention_cutoff(now: datetime, years: int = RETENTION_YEARS) -> datetime:
    """The same instant `years` calendar years before `now` (Feb 29 falls back to Feb 28, keeping a day more)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # Feb 29 in a year that has none
        return now.replace(year=now.year - years, day=28)


def purge_audit_log(session: Session, *, now: datetime, years: int = RETENTION_YEARS) -> int:
    """Delete AuditLog rows recorded before `retention_cutoff(now)`; commit; return how many went.

    Idempotent (a second run finds nothing). Refuses a retention shorter than two years.
    """
    if years < RETENTION_YEARS:
        raise ValueError(f"audit rows are kept at least {RETENTION_YEARS} years")
    cutoff = retention_cutoff(now, years)
    result = execute_dml(
        session, delete(AuditLog).where(AuditLog.at < cutoff).execution_options(synchronize_session=False)
    )
    session.commit()
    return int(result.rowcount or 0)
