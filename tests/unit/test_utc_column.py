"""`models.UTC`: every time column reads back as an aware UTC datetime, whatever wrote the row."""

import time
from datetime import datetime, timedelta, timezone, UTC

from sqlalchemy import literal, select, text

from storefront.models import UTC as UTC_COLUMN, User

WRITTEN = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _user(session, created_at: datetime) -> User:
    user = User(email="utc@example.com", password_hash="x", name="utc", created_at=created_at)
    session.add(user)
    session.commit()
    return user


def _read(session, user_id: int) -> datetime:
    session.expire_all()
    return session.scalar(select(User.created_at).where(User.id == user_id))


def test_a_written_time_reads_back_equal_aware_and_in_utc(db_session):
    seoul = timezone(timedelta(hours=9))
    user = _user(db_session, WRITTEN.astimezone(seoul))  # any zone in, UTC out

    read = _read(db_session, user.id)
    assert read == WRITTEN
    assert read.utcoffset() == timedelta(0) and read.tzinfo is UTC
    assert read.microsecond == 123456


def test_times_written_by_hand_in_other_shapes_read_back_as_utc(db_session, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Seoul")  # a machine not on UTC: no naive time may be read as local
    time.tzset()
    try:
        _check_shapes(db_session)
    finally:
        monkeypatch.undo()
        time.tzset()


def _check_shapes(db_session):
    user = _user(db_session, WRITTEN)
    shapes = {
        "2026-03-01 09:30:15": datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC),  # CURRENT_TIMESTAMP's shape
        "2026-03-01T09:30:15.5": datetime(2026, 3, 1, 9, 30, 15, 500000, tzinfo=UTC),
        "2026-03-01 18:30:15+09:00": datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC),  # carries its own offset
        "2026-03-01": datetime(2026, 3, 1, tzinfo=UTC),  # a bare date: midnight UTC, not the machine's zone
    }
    if db_session.get_bind().dialect.name != "sqlite":
        shapes = {"2026-03-01 18:30:15+09:00": shapes["2026-03-01 18:30:15+09:00"]}
    for stored, expected in shapes.items():
        db_session.execute(text("UPDATE users SET created_at = :at WHERE id = :id"), {"at": stored, "id": user.id})
        db_session.commit()
        read = _read(db_session, user.id)
        assert read == expected and read.utcoffset() == timedelta(0), stored


def test_a_null_time_reads_back_as_none(db_session):
    assert db_session.scalar(select(literal(None, UTC_COLUMN))) is None
