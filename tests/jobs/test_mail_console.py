"""Without SMTP_URL (development) notices are printed and marked 'logged'; SMS goes through an adapter."""

from __future__ import annotations

import pytest

from storefront.extensions import db, services
from storefront.models import EmailMessage
from storefront.notify import ConsoleEmailBackend, DeliveryError, Notifier
from tests.jobs.test_mail_outbox import RECEIPT, TRIAL_NOTICE, make_user


@pytest.fixture
def user(db_session, clock):
    found = make_user(db_session, clock)
    db_session.commit()
    return found


def queue(user, clock, kind="payment_receipt", context=RECEIPT, channels=("email",)) -> list[int]:
    rows = services().notifier.queue(
        db.session, user=user, kind=kind, dedup_key="event:1", context=context, now=clock.now(), channels=channels
    )
    db.session.commit()
    return [r.id for r in rows]


def test_without_smtp_url_the_email_is_printed_and_logged_once(user, clock, config, capsys):
    assert config.smtp_url is None
    assert isinstance(services().notifier.email_backend, ConsoleEmailBackend)
    (message_id,) = queue(user, clock)

    assert services().notifier.deliver(db.session, message_id, now=clock.now()) == "logged"
    printed = capsys.readouterr().out
    assert "To: buyer@example.com" in printed
    assert "Subject: [주식회사 테스트상점] 구독 시작 및 결제 완료 안내" in printed
    assert "9,900원" in printed and "사업자등록번호: 220-81-12345" in printed

    assert services().notifier.deliver(db.session, message_id, now=clock.now()) == "logged"
    assert capsys.readouterr().out == ""
    row = db.session.get(EmailMessage, message_id)
    assert (row.status, row.attempts, row.sent_at) == ("logged", 1, clock.now())


def test_the_default_sms_backend_prints_the_text(user, clock, capsys):
    (email_id, sms_id) = queue(
        user, clock, kind="trial_conversion_notice", context=TRIAL_NOTICE, channels=("email", "sms")
    )
    assert services().notifier.deliver(db.session, sms_id, now=clock.now()) == "logged"
    printed = capsys.readouterr().out
    assert "SMS to 010-1234-5678" in printed and "9,900원" in printed and "2026년 3월 17일" in printed
    assert db.session.get(EmailMessage, sms_id).status == "logged"
    assert db.session.get(EmailMessage, email_id).status == "queued"


class RecordingProvider:
    """What a real SMS provider adapter looks like: send(to, text) -> 'sent', raise on failure."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = fail

    def send(self, to: str, text: str) -> str:
        if self.fail:
            raise ConnectionError("provider unavailable")
        self.sent.append((to, text))
        return "sent"


def test_an_sms_provider_adapter_plugs_in_and_sends_once(app, config, user, clock):
    (sms_id,) = queue(user, clock, kind="trial_conversion_notice", context=TRIAL_NOTICE, channels=("sms",))
    down = Notifier(app.jinja_env, config, sms_backend=RecordingProvider(fail=True))
    with pytest.raises(DeliveryError, match="provider unavailable"):
        down.deliver(db.session, sms_id, now=clock.now())
    assert db.session.get(EmailMessage, sms_id).status == "queued"

    provider = RecordingProvider()
    up = Notifier(app.jinja_env, config, sms_backend=provider)
    assert up.deliver(db.session, sms_id, now=clock.now()) == "sent"
    assert up.deliver(db.session, sms_id, now=clock.now()) == "sent"
    ((to, text),) = provider.sent
    assert to == "010-1234-5678" and "9,900원" in text
