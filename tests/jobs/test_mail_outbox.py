"""Queueing notices: one outbox row per event and channel, inside the caller's transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storefront import create_app
from storefront.clock import FixedClock
from storefront.extensions import db, services
from storefront.models import EmailMessage, User
from storefront.notify import NoticeError
from tests.conftest import make_config

RECEIPT = {
    "product_name": "프리미엄 뉴스레터",
    "plan_name": "월간",
    "amount_won": 9900,
    "period_start": "2026-03-10T01:00:00+00:00",
    "period_end": "2026-04-10T01:00:00+00:00",
    "card_label": "신한카드 4321-****-****-123*",
    "first": True,
}
TRIAL_NOTICE = {
    "product_name": "프리미엄 뉴스레터",
    "effective_at": "2026-03-17T01:00:00+00:00",
    "new_amount_won": 9900,
    "cancel_url": "http://127.0.0.1:5000/account",
}


def make_user(
    session: Session, clock: FixedClock, *, phone: str | None = "010-1234-5678", email: str = "buyer@example.com"
) -> User:
    user = User(email=email, password_hash="x", name="김구매", phone=phone, created_at=clock.now())
    session.add(user)
    session.flush()
    return user


def count(session: Session) -> int:
    return session.scalar(select(func.count(EmailMessage.id)))


def test_queue_adds_a_rendered_email_row(db_session, clock):
    user = make_user(db_session, clock)
    rows = services().notifier.queue(
        db_session, user=user, kind="payment_receipt", dedup_key="charge:1:paid", context=RECEIPT, now=clock.now()
    )
    db_session.commit()
    (row,) = rows
    assert (row.channel, row.dedup_key, row.to, row.kind, row.status, row.attempts) == (
        "email",
        "charge:1:paid:email",
        "buyer@example.com",
        "payment_receipt",
        "queued",
        0,
    )
    assert row.subject == "[주식회사 테스트상점] 구독 시작 및 결제 완료 안내"
    assert "9,900원" in row.body_text and "9,900원" in row.body_html
    assert row.user_id == user.id and row.created_at == clock.now() and row.sent_at is None


def test_queueing_the_same_event_twice_keeps_one_row_per_channel(db_session, clock):
    user = make_user(db_session, clock)
    notifier = services().notifier
    first = notifier.queue(
        db_session,
        user=user,
        kind="trial_conversion_notice",
        dedup_key="sub:7:trial-notice",
        context=TRIAL_NOTICE,
        now=clock.now(),
        channels=("email", "sms"),
    )
    db_session.commit()
    again = notifier.queue(
        db_session,
        user=user,
        kind="trial_conversion_notice",
        dedup_key="sub:7:trial-notice",
        context=TRIAL_NOTICE,
        now=clock.now(),
        channels=("email", "sms"),
    )
    db_session.commit()
    assert [r.channel for r in first] == ["email", "sms"]
    assert again == []
    assert count(db_session) == 2


def test_a_second_process_that_never_saw_the_row_still_adds_nothing(app, db_session, clock):
    user = make_user(db_session, clock)
    services().notifier.queue(
        db_session, user=user, kind="payment_receipt", dedup_key="charge:1:paid", context=RECEIPT, now=clock.now()
    )
    db_session.commit()
    with Session(db.engine) as other:  # its own connection and transaction, as in another worker
        other_user = other.get(User, user.id)
        added = services().notifier.queue(
            other, user=other_user, kind="payment_receipt", dedup_key="charge:1:paid", context=RECEIPT, now=clock.now()
        )
        other.commit()
    assert added == []
    assert count(db_session) == 1


def test_the_sms_row_carries_the_short_text_to_the_phone(db_session, clock):
    user = make_user(db_session, clock)
    rows = services().notifier.queue(
        db_session,
        user=user,
        kind="trial_conversion_notice",
        dedup_key="sub:7:trial",
        context=TRIAL_NOTICE,
        now=clock.now(),
        channels=("sms",),
    )
    (sms,) = rows
    assert (sms.channel, sms.to, sms.status, sms.body_html, sms.dedup_key) == (
        "sms",
        "010-1234-5678",
        "queued",
        None,
        "sub:7:trial:sms",
    )
    assert "9,900원" in sms.body_text and "2026년 3월 17일" in sms.body_text and "\n" not in sms.body_text


def test_an_sms_for_a_user_without_phone_is_recorded_as_failed_not_dropped(db_session, clock):
    user = make_user(db_session, clock, phone=None)
    rows = services().notifier.queue(
        db_session,
        user=user,
        kind="trial_conversion_notice",
        dedup_key="sub:7:trial",
        context=TRIAL_NOTICE,
        now=clock.now(),
        channels=("email", "sms"),
    )
    by_channel = {r.channel: r for r in rows}
    assert by_channel["email"].status == "queued"
    assert by_channel["sms"].status == "failed" and "phone" in by_channel["sms"].last_error


def test_queue_never_commits_so_a_rolled_back_change_sends_nothing(db_session, clock):
    user = make_user(db_session, clock)
    db_session.commit()
    services().notifier.queue(
        db_session, user=user, kind="payment_receipt", dedup_key="charge:1:paid", context=RECEIPT, now=clock.now()
    )
    db_session.rollback()  # the state change it reported failed
    assert count(db_session) == 0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"kind": "newsletter"}, "unknown notice kind"),
        ({"channels": ("fax",)}, "unknown channel"),
        ({"kind": "card_registered", "channels": ("sms",)}, "no SMS text"),
    ],
)
def test_unknown_kinds_and_channels_are_refused(db_session, clock, kwargs, match):
    user = make_user(db_session, clock)
    call = dict(
        user=user, kind="payment_receipt", dedup_key="k", context=RECEIPT | {"card_label": "x"}, now=clock.now()
    )
    with pytest.raises(NoticeError, match=match):
        services().notifier.queue(db_session, **(call | kwargs))
    assert count(db_session) == 0


@pytest.mark.postgres
def test_one_row_per_event_on_postgresql_too(tmp_path: Path, postgres_url: str, clock):
    app = create_app(make_config(tmp_path, DATABASE_URL=postgres_url), clock=clock)
    with app.app_context():
        db.create_all()
        try:
            user = make_user(db.session, clock)
            notifier = services().notifier
            first = notifier.queue(
                db.session,
                user=user,
                kind="payment_receipt",
                dedup_key="charge:1:paid",
                context=RECEIPT,
                now=clock.now(),
                channels=("email", "sms"),
            )
            db.session.commit()
            with Session(db.engine) as other:
                again = notifier.queue(
                    other,
                    user=other.get(User, user.id),
                    kind="payment_receipt",
                    dedup_key="charge:1:paid",
                    context=RECEIPT,
                    now=clock.now(),
                    channels=("email", "sms"),
                )
                other.commit()
            assert len(first) == 2 and again == []
            assert count(db.session) == 2
        finally:
            db.session.remove()
            db.engine.dispose()


def test_a_user_added_in_the_same_transaction_is_linked_to_the_row(db_session, clock):
    user = User(email="new@example.com", password_hash="x", name="신규", created_at=clock.now())
    db_session.add(user)  # not flushed yet: the notice is part of the sign-up transaction
    (row,) = services().notifier.queue(
        db_session,
        user=user,
        kind="card_registered",
        dedup_key="card:1",
        context={"card_label": "신한카드 1234"},
        now=clock.now(),
    )
    db_session.commit()
    assert user.id is not None and row.user_id == user.id and row.to == "new@example.com"
