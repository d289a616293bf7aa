"""`dml.write_through`: a few known rows' changes sent as plain UPDATEs, the objects left as a flush leaves them."""

from datetime import datetime, UTC

from sqlalchemy import event, select, text

from storefront.dml import write_through
from storefront.models import User

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _users(session, n: int) -> list[User]:
    users = [User(email=f"u{i}@example.com", password_hash="x", name=f"u{i}", created_at=NOW) for i in range(n)]
    session.add_all(users)
    session.commit()
    return users


class _Statements:
    def __init__(self, session) -> None:
        self.engine, self.seen = session.get_bind(), []

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self.seen

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.seen.append(statement.split(None, 1)[0])


def test_changed_columns_are_written_at_once_and_the_commit_writes_nothing_more(db_session):
    first, second, untouched = _users(db_session, 3)
    first.name, first.phone = "김토스", "01012345678"
    second.name = "이결제"
    with _Statements(db_session) as seen:
        write_through(db_session, first, second, untouched)
        assert seen == ["UPDATE", "UPDATE"]  # one per changed row, none for the untouched one
        assert not db_session.dirty  # clean, as after a flush
        db_session.commit()
    assert seen == ["UPDATE", "UPDATE"]
    rows = db_session.execute(text("SELECT id, name, phone FROM users ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [
        (first.id, "김토스", "01012345678"),
        (second.id, "이결제", None),
        (untouched.id, "u2", None),
    ]


def test_a_rollback_undoes_what_was_written_through(db_session):
    [user] = _users(db_session, 1)
    user.name = "바뀐 이름"
    write_through(db_session, user)
    db_session.rollback()
    assert db_session.scalar(select(User.name).where(User.id == user.id)) == "u0"
    assert user.name == "u0"  # expired by the rollback and loaded again


def test_a_new_object_goes_through_the_ordinary_flush(db_session):
    [user] = _users(db_session, 1)
    user.name = "기존"
    newcomer = User(email="new@example.com", password_hash="x", name="새 회원", created_at=NOW)
    db_session.add(newcomer)
    write_through(db_session, user, newcomer)
    assert newcomer.id is not None and not db_session.dirty and not db_session.new
    db_session.commit()
    assert db_session.scalars(select(User.name).order_by(User.id)).all() == ["기존", "새 회원"]
