"""Notices stop when a member withdraws (회원탈퇴).

Nothing queued before reaches the SMTP server, and why is recorded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from storefront.billing.compliance import withdrawal
from storefront.config import Config
from storefront.extensions import db, services
from tests.conftest import make_config
from tests.jobs.test_mail_delivery import FAILED, queue_for, row
from tests.jobs.test_mail_outbox import RECEIPT, make_user
from tests.smtp_server import SmtpServer


@pytest.fixture
def config(tmp_path: Path, smtp_server: SmtpServer) -> Config:
    return make_config(tmp_path, SMTP_URL=smtp_server.url, MAIL_FROM="notice@test-shop.example")


def withdraw(user) -> None:
    """What billing/compliance/withdrawal.py does to the member row."""
    withdrawal._anonymise(user)
    db.session.commit()


def test_a_notice_queued_before_the_member_withdrew_is_skipped_with_the_reason(
    app, db_session, clock, smtp_server: SmtpServer
):
    user = make_user(db_session, clock)
    db_session.commit()
    email_id = queue_for(user, "payment_failed", FAILED, clock, channels=("email", "sms"))
    sms_id = email_id + 1
    withdraw(user)
    notifier = services().notifier

    assert notifier.deliver(db.session, email_id, now=clock.now()) == "skipped"
    assert notifier.deliver(db.session, sms_id, now=clock.now()) == "skipped"
    assert notifier.deliver_pending(db.session, now=clock.now()) == 0
    assert smtp_server.received == []
    for message_id in (email_id, sms_id):
        skipped = row(message_id)
        assert skipped.status == "skipped" and "withdrew" in skipped.last_error and skipped.sent_at is None


def test_nothing_is_queued_for_a_member_who_has_withdrawn(app, db_session, clock, smtp_server: SmtpServer):
    user = make_user(db_session, clock)
    withdraw(user)
    rows = services().notifier.queue(
        db.session, user=user, kind="payment_receipt", dedup_key="charge:9:paid", context=RECEIPT, now=clock.now()
    )
    db.session.commit()
    assert rows == [] and notifier_rows() == 0
    other = make_user(db_session, clock, email="stays@example.com")
    assert (
        len(
            services().notifier.queue(
                db.session,
                user=other,
                kind="payment_receipt",
                dedup_key="charge:10:paid",
                context=RECEIPT,
                now=clock.now(),
            )
        )
        == 1
    )


def notifier_rows() -> int:
    from sqlalchemy import func, select

    from storefront.models import EmailMessage

    return db.session.scalar(select(func.count(EmailMessage.id)))
