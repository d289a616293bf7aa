"""`flask outbox`: an operator can see what was sent and push a failed notice again."""

from __future__ import annotations

from storefront.extensions import db, services
from storefront.models import EmailMessage
from tests.jobs.test_mail_outbox import RECEIPT, make_user


def queue_one(clock) -> int:
    user = make_user(db.session, clock)
    (row,) = services().notifier.queue(
        db.session, user=user, kind="payment_receipt", dedup_key="charge:1:paid", context=RECEIPT, now=clock.now()
    )
    db.session.commit()
    return row.id


def test_list_show_deliver_and_retry(app, db_session, clock):
    message_id = queue_one(clock)
    runner = app.test_cli_runner()

    listed = runner.invoke(args=["outbox", "list", "--status", "queued"])
    assert listed.exit_code == 0
    assert f"{message_id}" in listed.output and "queued" in listed.output and "결제 완료 안내" in listed.output

    shown = runner.invoke(args=["outbox", "show", str(message_id)])
    assert "To: buyer@example.com" in shown.output and "9,900원" in shown.output

    delivered = runner.invoke(args=["outbox", "deliver"])
    assert "delivered 1 message(s)" in delivered.output
    assert "9,900원" in delivered.output  # printed by the console backend (no SMTP_URL)

    refused = runner.invoke(args=["outbox", "retry", str(message_id)])
    assert refused.exit_code != 0 and "only failed or sending rows" in refused.output

    db_session.get(EmailMessage, message_id).status = "failed"
    db_session.commit()
    retried = runner.invoke(args=["outbox", "retry", str(message_id)])
    assert retried.exit_code == 0
    db_session.expire_all()
    row = db_session.get(EmailMessage, message_id)
    assert (row.status, row.attempts) == ("queued", 0)
    assert runner.invoke(args=["outbox", "show", "999"]).exit_code != 0
