"""The consent and renewal-notice jobs on real Redis, run by rq.SimpleWorker, mailing a real SMTP server.

The jobs build their own app from the environment like a worker process; `as_of` (sandbox
only) carries the test's moment to them, since the worker's clock is the system clock.
"""

from __future__ import annotations

import pytest

from storefront import jobs
from storefront.models import EmailMessage, PriceChange
from tests.billing.consent_support import paid_subscriber, start_trial
from tests.jobs.test_mail_rq import config, queue, run_worker, worker_env  # noqa: F401  (fixtures)


@pytest.fixture
def notifier(app):
    return app.extensions["storefront"].notifier


def rows(db_session, kind: str) -> list[tuple[str, str]]:
    db_session.expire_all()
    return [
        (row.channel, row.status)
        for row in db_session.query(EmailMessage).filter_by(kind=kind).order_by(EmailMessage.id)
    ]


def test_the_consent_job_sends_the_request_once_and_delivers_it(worker_env, queue, shop, smtp_server):
    start_trial(shop)  # signed up 2026-03-10 10:00 KST; asked from a day later
    job = queue.enqueue(jobs.consent_requests_job, "2026-03-11T10:00:00+09:00")
    run_worker(queue)
    assert job.return_value() == 1

    token = shop.session.query(PriceChange).one().token
    [mail] = smtp_server.messages
    assert mail["Subject"] == "[주식회사 테스트상점] 유료 전환 동의 요청"
    body = mail.get_body(("plain",)).get_content()
    assert f"http://127.0.0.1:5000/consent/{token}" in body and "12,900원" in body
    assert rows(shop.session, "consent_request") == [("email", "sent"), ("sms", "logged")]

    again = queue.enqueue(jobs.consent_requests_job, "2026-03-11T10:30:00+09:00")
    run_worker(queue)
    assert again.return_value() == 0 and len(smtp_server.messages) == 1


def test_the_renewal_job_mails_the_notice_seven_days_ahead(worker_env, queue, shop, smtp_server):
    paid_subscriber(shop)  # renews 2026-04-10 10:00 KST
    early = queue.enqueue(jobs.renewal_notices_job, "2026-04-02T10:00:00+09:00")
    due = queue.enqueue(jobs.renewal_notices_job, "2026-04-03T10:00:00+09:00")
    run_worker(queue)
    assert (early.return_value(), due.return_value()) == (0, 1)
    notices = [m for m in smtp_server.messages if "정기결제 예정 안내" in m["Subject"]]
    assert len(notices) == 1 and "2026년 4월 10일" in notices[0].get_body(("plain",)).get_content()
