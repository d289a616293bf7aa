"""Delivering the outbox over real SMTP (aiosmtpd on 127.0.0.1): once, in UTF-8, with retries."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from storefront.config import Config
from storefront.extensions import db, services
from storefront.models import EmailMessage
from storefront.notify import DeliveryError, Notifier, SmtpEmailBackend
from tests.conftest import make_config
from tests.jobs.test_mail_outbox import RECEIPT, make_user
from tests.smtp_server import SmtpServer, tls_pair

FAILED = {
    "product_name": "프리미엄 뉴스레터",
    "amount_won": 9900,
    "failure_message": "카드 잔액이 부족합니다.",
    "retry_at": "2026-03-11T01:00:00+00:00",
    "final": False,
    "hard_decline": False,
}


@pytest.fixture
def config(tmp_path: Path, smtp_server: SmtpServer) -> Config:
    return make_config(tmp_path, SMTP_URL=smtp_server.url, MAIL_FROM="notice@test-shop.example")


@pytest.fixture
def user(db_session, clock):
    found = make_user(db_session, clock)
    db_session.commit()
    return found


def queue_for(user, kind: str, context: dict, clock, dedup_key: str = "charge:1:paid", channels=("email",)) -> int:
    (row, *_) = services().notifier.queue(
        db.session, user=user, kind=kind, dedup_key=dedup_key, context=context, now=clock.now(), channels=channels
    )
    db.session.commit()
    return row.id


def row(message_id: int) -> EmailMessage:
    db.session.expire_all()
    return db.session.get(EmailMessage, message_id)


def test_a_receipt_arrives_once_in_utf8_with_an_html_alternative(app: Flask, user, clock, smtp_server: SmtpServer):
    message_id = queue_for(user, "payment_receipt", RECEIPT, clock)
    notifier = services().notifier

    assert notifier.deliver(db.session, message_id, now=clock.now()) == "sent"
    assert notifier.deliver(db.session, message_id, now=clock.now()) == "sent"  # again: nothing more goes out

    (got,) = smtp_server.received
    mail = got.message
    assert got.rcpt_tos == ["buyer@example.com"] and got.mail_from == "notice@test-shop.example"
    assert mail["Subject"] == "[주식회사 테스트상점] 구독 시작 및 결제 완료 안내"
    assert mail["To"] == "buyer@example.com"
    assert mail["From"].addresses[0].display_name == "주식회사 테스트상점"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text.get_content_charset() == "utf-8"
    assert "9,900원" in text.get_content() and "김구매님" in text.get_content()
    assert "사업자등록번호: 220-81-12345" in text.get_content()
    assert "9,900원" in html.get_content() and html.get_content().lstrip().startswith("<!doctype html>")
    sent = row(message_id)
    assert (sent.status, sent.attempts, sent.sent_at, sent.last_error) == ("sent", 1, clock.now(), None)


def test_a_failure_notice_arrives_with_its_subject_and_retry_time(app, user, clock, smtp_server):
    message_id = queue_for(user, "payment_failed", FAILED, clock, dedup_key="charge:1:failed:1")
    assert services().notifier.deliver(db.session, message_id, now=clock.now()) == "sent"
    (mail,) = smtp_server.messages
    assert mail["Subject"] == "[주식회사 테스트상점] 결제 실패 안내"
    body = mail.get_body(("plain",)).get_content()
    assert "카드 잔액이 부족합니다." in body and "2026-03-11 10:00" in body


@pytest.mark.parametrize("reply", ["451 4.3.0 Try again later", "554 5.7.1 Rejected for now"])
def test_an_smtp_error_keeps_the_row_queued_raises_and_a_later_delivery_sends_once(
    app, user, clock, smtp_server, reply
):
    message_id = queue_for(user, "payment_receipt", RECEIPT, clock)
    notifier = services().notifier
    smtp_server.reply = reply

    with pytest.raises(DeliveryError, match=reply[:3]):
        notifier.deliver(db.session, message_id, now=clock.now())
    failed = row(message_id)
    assert (failed.status, failed.attempts, failed.sent_at) == ("queued", 1, None)
    assert reply[:3] in failed.last_error

    smtp_server.reply = None
    clock.advance(seconds=10)
    assert notifier.deliver(db.session, message_id, now=clock.now()) == "sent"
    assert notifier.deliver(db.session, message_id, now=clock.now()) == "sent"
    assert len(smtp_server.received) == 1
    done = row(message_id)
    assert (done.status, done.attempts, done.last_error, done.sent_at) == ("sent", 2, None, clock.now())


def test_a_server_that_is_down_is_retried_later(app: Flask, config: Config, user, clock, smtp_server):
    message_id = queue_for(user, "payment_receipt", RECEIPT, clock)
    smtp_server.stop()
    with pytest.raises(DeliveryError):
        services().notifier.deliver(db.session, message_id, now=clock.now())
    assert (row(message_id).status, row(message_id).attempts) == ("queued", 1)
    assert "Connection" in row(message_id).last_error

    back = SmtpServer()  # the relay comes back (on another port here)
    try:
        notifier = Notifier(app.jinja_env, config, email_backend=SmtpEmailBackend(back.url))
        assert notifier.deliver(db.session, message_id, now=clock.now()) == "sent"
        assert len(back.received) == 1
    finally:
        back.stop()


def test_after_max_attempts_the_row_is_failed_and_left_alone(app, config, user, clock, smtp_server):
    message_id = queue_for(user, "payment_receipt", RECEIPT, clock)
    notifier = Notifier(app.jinja_env, config, max_attempts=2)
    smtp_server.reply = "451 4.3.0 Try again later"
    for _ in range(2):
        with pytest.raises(DeliveryError):
            notifier.deliver(db.session, message_id, now=clock.now())
    assert (row(message_id).status, row(message_id).attempts) == ("failed", 2)
    smtp_server.reply = None
    assert notifier.deliver(db.session, message_id, now=clock.now()) == "failed"
    assert notifier.deliver_pending(db.session, now=clock.now()) == 0
    assert smtp_server.received == []


def test_deliver_pending_sends_every_queued_row_once(app, user, clock, smtp_server):
    ids = [queue_for(user, "payment_receipt", RECEIPT, clock, dedup_key=f"charge:{n}:paid") for n in range(3)]
    notifier = services().notifier
    assert notifier.deliver_pending(db.session, now=clock.now()) == 3
    assert notifier.deliver_pending(db.session, now=clock.now()) == 0
    assert len(smtp_server.received) == 3
    assert {row(i).status for i in ids} == {"sent"}


def test_the_tls_context_is_made_once_not_per_message(app, user, clock, smtp_server, monkeypatch):
    """Loading the system's CA certificates costs ~25 ms of CPU: a worker sending receipts made one per message."""
    import ssl

    from storefront.notify import backends

    made: list[ssl.SSLContext] = []

    def counted() -> ssl.SSLContext:
        made.append(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        return made[-1]

    monkeypatch.setattr(backends.ssl, "create_default_context", counted)
    for n in range(3):
        queue_for(user, "payment_receipt", RECEIPT, clock, dedup_key=f"charge:{n}:paid")
    assert services().notifier.deliver_pending(db.session, now=clock.now()) == 3
    assert len(smtp_server.received) == 3
    assert len(made) == 1


def test_deliver_pending_keeps_going_past_a_failure(app, user, clock, smtp_server):
    ids = [queue_for(user, "payment_receipt", RECEIPT, clock, dedup_key=f"charge:{n}:paid") for n in range(2)]
    smtp_server.reply = "451 4.3.0 Try again later"
    assert services().notifier.deliver_pending(db.session, now=clock.now()) == 0
    assert [(row(i).status, row(i).attempts) for i in ids] == [("queued", 1), ("queued", 1)]


def test_a_missing_message_is_reported_not_retried(db_session, clock, smtp_server):
    assert services().notifier.deliver(db_session, 4242, now=clock.now()) == "missing"
    assert smtp_server.received == []


def test_credentials_from_the_url_are_used_and_never_shown(app, config, user, clock, tmp_path):
    server = SmtpServer(auth=("mailer@test-shop.example", "p@ss:w/rd"))
    try:
        good = SmtpEmailBackend(f"smtp://mailer%40test-shop.example:p%40ss%3Aw%2Frd@127.0.0.1:{server.port}")
        bad = SmtpEmailBackend(f"smtp://mailer%40test-shop.example:wrong-pass@127.0.0.1:{server.port}")
        assert "p@ss" not in repr(good) and "wrong-pass" not in repr(bad)
        first = queue_for(user, "payment_receipt", RECEIPT, clock, dedup_key="a")
        second = queue_for(user, "payment_receipt", RECEIPT, clock, dedup_key="b")

        with pytest.raises(DeliveryError) as failure:
            Notifier(app.jinja_env, config, email_backend=bad).deliver(db.session, first, now=clock.now())
        assert "SMTPAuthenticationError" in row(first).last_error
        assert "wrong-pass" not in row(first).last_error and "wrong-pass" not in str(failure.value)

        assert (
            Notifier(app.jinja_env, config, email_backend=good).deliver(db.session, second, now=clock.now()) == "sent"
        )
        assert server.logins == ["mailer@test-shop.example"] and len(server.received) == 1
    finally:
        server.stop()


def test_starttls_is_used_when_the_server_offers_it(app, config, user, clock, tmp_path):
    server_ctx, client_ctx = tls_pair(tmp_path)
    server = SmtpServer(tls_context=server_ctx, auth=("mailer", "secret-pass"))
    try:
        backend = SmtpEmailBackend(f"smtp://mailer:secret-pass@127.0.0.1:{server.port}", ssl_context=client_ctx)
        message_id = queue_for(user, "payment_receipt", RECEIPT, clock)
        assert (
            Notifier(app.jinja_env, config, email_backend=backend).deliver(db.session, message_id, now=clock.now())
            == "sent"
        )
        (got,) = server.received
        assert got.peer_tls is True and server.logins == ["mailer"]
    finally:
        server.stop()


def test_smtps_speaks_tls_from_the_first_byte(app, config, user, clock, tmp_path):
    server_ctx, client_ctx = tls_pair(tmp_path)
    server = SmtpServer(implicit_tls=server_ctx)
    try:
        assert server.url.startswith("smtps://")
        backend = SmtpEmailBackend(server.url, ssl_context=client_ctx)
        message_id = queue_for(user, "payment_receipt", RECEIPT, clock)
        assert (
            Notifier(app.jinja_env, config, email_backend=backend).deliver(db.session, message_id, now=clock.now())
            == "sent"
        )
        assert len(server.received) == 1
    finally:
        server.stop()


def test_a_certificate_the_client_does_not_trust_is_refused(app, config, user, clock, tmp_path):
    server_ctx, _ = tls_pair(tmp_path)
    server = SmtpServer(implicit_tls=server_ctx)
    try:
        message_id = queue_for(user, "payment_receipt", RECEIPT, clock)
        notifier = Notifier(app.jinja_env, config, email_backend=SmtpEmailBackend(server.url))  # system CAs only
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            notifier.deliver(db.session, message_id, now=clock.now())
        assert server.received == [] and row(message_id).status == "queued"
    finally:
        server.stop()


# -- the resend rule: after a lost answer, the same message again (same Message-ID) ----------------


def test_a_lost_250_sends_the_message_again_with_the_same_message_id(app: Flask, user, clock, smtp_server: SmtpServer):
    message_id = queue_for(user, "payment_receipt", RECEIPT, clock)
    notifier = services().notifier
    smtp_server.lose_replies = 1  # the server keeps the message; the connection dies before "250"

    with pytest.raises(DeliveryError):
        notifier.deliver(db.session, message_id, now=clock.now())
    lost = row(message_id)
    assert (lost.status, lost.attempts) == ("queued", 1)
    assert lost.last_error.startswith("결과 미확인: 메일 서버가 받았을 수 있어 같은 Message-ID로 다시 보냅니다")

    clock.advance(seconds=10)  # the job's first retry
    assert notifier.deliver(db.session, message_id, now=clock.now()) == "sent"

    first, second = (got.message for got in smtp_server.received)
    assert first["Message-ID"] == second["Message-ID"] and first["Message-ID"].startswith(f"<outbox-{message_id}.")
    assert (
        first["Date"] == second["Date"]
        and first.get_body(("plain",)).get_content() == second.get_body(("plain",)).get_content()
    )
    assert (row(message_id).status, row(message_id).attempts) == ("sent", 2)


def test_a_refused_message_is_not_a_lost_answer(app: Flask, user, clock, smtp_server: SmtpServer):
    message_id = queue_for(user, "payment_receipt", RECEIPT, clock)
    smtp_server.reply = "451 4.3.0 Try again later"
    with pytest.raises(DeliveryError):
        services().notifier.deliver(db.session, message_id, now=clock.now())
    assert row(message_id).last_error.startswith("SMTPDataError") and smtp_server.received == []


def test_a_send_whose_worker_died_is_sent_again_by_the_pending_sweep_with_the_same_message_id(
    app: Flask, user, clock, smtp_server: SmtpServer
):
    from storefront.notify.notifier import SENDING_GRACE, _claim

    message_id = queue_for(user, "payment_receipt", RECEIPT, clock)
    notifier = services().notifier
    assert _claim(db.session, message_id, clock.now())  # claimed, then the worker died before an answer
    assert notifier.deliver_pending(db.session, now=clock.now()) == 0  # maybe still on its way: left alone

    clock.advance(seconds=SENDING_GRACE.total_seconds() + 1)
    assert notifier.deliver_pending(db.session, now=clock.now()) == 1

    (got,) = smtp_server.received
    assert got.message["Message-ID"] == notifier.build_mime(row(message_id), clock.now())["Message-ID"]
    assert (row(message_id).status, row(message_id).attempts) == ("sent", 2)
