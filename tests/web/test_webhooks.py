"""POST /webhooks/toss: every delivery recorded once, answered 200, and only Toss's own answer acted on."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from storefront.extensions import services
from storefront.models import BillingKey, Refund, WebhookEvent
from storefront.toss.errors import Category, TossError
from tests.web.admin_support import FakeToss, fixture_bytes, fixture_json, make_paid

URL = "/webhooks/toss"
HEADER = "tosspayments-webhook-transmission-id"
# The documented example: paymentKey/orderId of a 4,900원 payment.
PAYMENT_KEY, ORDER_ID = "G5ZkmSdMiKbD20aLWfkgj", "0idqIcrzThutspevszn7f"


@pytest.fixture
def toss(clock) -> FakeToss:
    return FakeToss(clock)


def _post(client, body: bytes, transmission_id: str | None = "whtrans_1", **kw):
    headers = {HEADER: transmission_id} if transmission_id else {}
    return client.post(URL, data=body, headers=headers, content_type="application/json", **kw)


def _events(db_session) -> list[WebhookEvent]:
    db_session.expire_all()
    return db_session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()


def _paid_documented_payment(db_session, clock, toss):
    return make_paid(db_session, clock.now(), toss=toss, amount_won=4900, order_id=ORDER_ID, payment_key=PAYMENT_KEY)


def test_payment_status_changed_refetches_and_records_a_dashboard_cancel(client, db_session, clock, toss):
    paid = _paid_documented_payment(db_session, clock, toss)
    # The merchant cancels the whole payment in the Toss dashboard; the body Toss sends us
    # (the documented example) shows a different, partial picture: we go by Toss's API.
    toss.cancel_payment(PAYMENT_KEY, reason="대시보드에서 전액 취소", idempotency_key="dashboard", amount=None)

    response = _post(client, fixture_bytes("webhook.payment-status-changed.json"))

    assert response.status_code == 200
    assert toss.get_calls == [PAYMENT_KEY]
    [event] = _events(db_session)
    assert (event.event_type, event.status, event.transmission_id) == (
        "PAYMENT_STATUS_CHANGED",
        "processed",
        "whtrans_1",
    )
    [refund] = db_session.scalars(select(Refund)).all()
    assert (refund.amount_won, refund.status, refund.transaction_key) == (4900, "done", "tx-0001")
    assert refund.reason == "대시보드에서 전액 취소"
    db_session.refresh(paid.charge)
    assert paid.charge.status == "refunded"


def test_a_forged_cancel_notice_changes_nothing(client, db_session, clock, toss):
    paid = _paid_documented_payment(db_session, clock, toss)  # Toss still says DONE
    response = _post(client, fixture_bytes("webhook.payment-status-changed.json"))
    assert response.status_code == 200
    assert db_session.scalars(select(Refund)).all() == []
    db_session.refresh(paid.charge)
    assert paid.charge.status == "paid"
    assert _events(db_session)[0].status == "processed"


def test_duplicate_transmission_is_recorded_once(client, db_session, clock, toss):
    _paid_documented_payment(db_session, clock, toss)
    toss.cancel_payment(PAYMENT_KEY, reason="취소", idempotency_key="dashboard", amount=2000)
    body = fixture_bytes("webhook.payment-status-changed.json")
    first, second = _post(client, body), _post(client, body)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_json()["status"] == "duplicate"
    assert len(_events(db_session)) == 1
    assert len(db_session.scalars(select(Refund)).all()) == 1
    assert toss.get_calls == [PAYMENT_KEY]


def test_failed_lookup_is_an_error_row_answered_200_and_a_retry_processes_it(client, db_session, clock, toss):
    _paid_documented_payment(db_session, clock, toss)
    toss.cancel_payment(PAYMENT_KEY, reason="취소", idempotency_key="dashboard", amount=None)
    toss.get_error = TossError("TIMEOUT", "응답 시간이 초과되었습니다.", None, Category.UNKNOWN_OUTCOME)
    body = fixture_bytes("webhook.payment-status-changed.json")

    assert _post(client, body).status_code == 200
    [event] = _events(db_session)
    assert event.status == "error" and "TIMEOUT" in event.note
    assert db_session.scalars(select(Refund)).all() == []

    toss.get_error = None  # Toss redelivers (same transmission id) once we answer again
    assert _post(client, body).status_code == 200
    [event] = _events(db_session)
    assert event.status == "processed"
    assert len(db_session.scalars(select(Refund)).all()) == 1


@pytest.mark.parametrize(
    "body,note",
    [
        (b"not json{", "JSON"),
        (b"\xff\xfe\x00", "JSON"),
        (b"[1, 2, 3]", "eventType"),
        (json.dumps({"hello": "world"}).encode(), "eventType"),
        (json.dumps({"eventType": "CUSTOMER_STATUS_CHANGED", "data": {}}).encode(), "CUSTOMER_STATUS_CHANGED"),
        (json.dumps({"eventType": "PAYMENT_STATUS_CHANGED", "data": "oops"}).encode(), "paymentKey"),
        (json.dumps({"eventType": "PAYMENT_STATUS_CHANGED"}).encode(), "paymentKey"),
        (json.dumps({"eventType": "BILLING_DELETED", "data": {"billingKey": 12}}).encode(), "billingKey"),
    ],
)
def test_garbage_and_unknown_shapes_are_recorded_as_ignored(client, db_session, toss, body, note):
    response = _post(client, body)
    assert response.status_code == 200
    [event] = _events(db_session)
    assert event.status == "ignored" and note in event.note
    assert toss.get_calls == []


def test_deposit_callback_is_ignored(client, db_session):
    body = json.dumps(
        {
            "createdAt": "2024-01-01T00:00:00.000000",
            "secret": "ps_vasecret",
            "status": "DONE",
            "transactionKey": "t",
            "orderId": "o-123456",
        }
    ).encode()
    assert _post(client, body).status_code == 200
    [event] = _events(db_session)
    assert (event.event_type, event.status) == ("DEPOSIT_CALLBACK", "ignored")
    assert "ps_vasecret" not in event.payload


def test_payment_that_is_not_ours_is_ignored(client, db_session, toss):
    assert _post(client, fixture_bytes("webhook.payment-status-changed.json")).status_code == 200
    assert _events(db_session)[0].status == "ignored"
    assert toss.get_calls == []


def test_billing_deleted_marks_the_card_and_keeps_the_subscription(app, client, db_session, clock, toss):
    paid = make_paid(db_session, clock.now(), toss=toss)
    billing_key = fixture_json("webhook.billing-deleted.json")["data"]["billingKey"]
    services().vault.seal(paid.card, billing_key)  # sets the fingerprint, as every sealing does
    db_session.commit()

    response = _post(client, fixture_bytes("webhook.billing-deleted.json"), transmission_id="whtrans_bd")

    assert response.status_code == 200
    [event] = _events(db_session)
    assert (event.event_type, event.status) == ("BILLING_DELETED", "processed")
    card = db_session.get(BillingKey, paid.card.id)
    assert card.needs_update_at == clock.now()
    assert card.deactivated_at is None and card.sealed is not None
    db_session.refresh(paid.subscription)
    assert paid.subscription.status == "active"
    assert billing_key not in event.payload  # the key itself is never stored in clear


def test_billing_deleted_for_an_unknown_key_is_ignored(client, db_session, clock, toss):
    paid = make_paid(db_session, clock.now(), toss=toss)
    services().vault.seal(paid.card, "some-other-billing-key")
    db_session.commit()
    assert _post(client, fixture_bytes("webhook.billing-deleted.json")).status_code == 200
    assert _events(db_session)[0].status == "ignored"
    assert db_session.get(BillingKey, paid.card.id).needs_update_at is None


@pytest.mark.settings(toss_webhook_allowed_ips=("13.124.18.147",))
def test_ip_allowlist_when_configured(client, db_session):
    refused = _post(client, b"{}", transmission_id="whtrans_a")
    accepted = _post(client, b"{}", transmission_id="whtrans_b", environ_overrides={"REMOTE_ADDR": "13.124.18.147"})
    assert (refused.status_code, accepted.status_code) == (403, 200)
    assert [e.transmission_id for e in _events(db_session)] == ["whtrans_b"]


def test_webhooks_need_no_csrf_token_and_delivery_without_id_is_still_recorded(client, db_session):
    assert _post(client, b'{"eventType":"METHOD_UPDATED","data":{}}', transmission_id=None).status_code == 200
    assert _events(db_session)[0].transmission_id is None


@pytest.mark.postgres
@pytest.mark.parametrize("body", [b"\xff\xfe\x00", json.dumps({"eventType": "X\u0000Y", "data": {}}).encode()])
def test_nul_characters_are_recorded_on_postgresql_too(tmp_path, postgres_url, body):
    """PostgreSQL text refuses NUL; a garbage delivery must still be a recorded 200, not a 503 retried for days."""
    from flask_migrate import upgrade

    from storefront import create_app
    from storefront.extensions import db
    from tests.conftest import make_config

    app = create_app(make_config(tmp_path, DATABASE_URL=postgres_url))
    with app.app_context():
        upgrade()
        response = app.test_client().post(
            "/webhooks/toss",
            data=body,
            content_type="application/json",
            headers={"tosspayments-webhook-transmission-id": "whtrans_nul"},
        )
        assert response.status_code == 200
        [event] = db.session.scalars(select(WebhookEvent)).all()
        assert event.status == "ignored" and "\x00" not in event.payload + event.event_type
        db.session.remove()
        db.engine.dispose()


# -- bounded: size, depth, rate ----------------------------------------------------------------------


def test_a_flood_of_large_bodies_stores_a_bounded_part_of_each(app, client, db_session, config):
    """30 deliveries of 900 kB grew the database by 33.6 MB when bodies were stored whole."""
    database = config.database_url.removeprefix("sqlite:///")
    db_session.execute(select(WebhookEvent.id)).all()  # the file exists, WAL included
    before = _database_bytes(database)
    junk = json.dumps({"eventType": "CUSTOMER_STATUS_CHANGED", "data": {"blob": "가" * 300_000}}).encode()

    answers = {_post(client, junk, transmission_id=f"whtrans_big_{n}").status_code for n in range(30)}

    assert answers == {200}
    events = _events(db_session)
    assert len(events) == 30 and {e.status for e in events} == {"ignored"}
    assert all(len(e.payload) <= 1_000 and "너무 큽니다" in e.note for e in events)
    db_session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    assert _database_bytes(database) - before < 1_000_000


def test_a_body_over_the_request_limit_is_still_recorded_and_answered_200(client, db_session):
    response = _post(client, b"{" + b" " * (2 * 1024 * 1024) + b"}", transmission_id="whtrans_2mib")
    assert response.status_code == 200
    [event] = _events(db_session)
    assert event.status == "ignored" and "너무 큽니다" in event.note and event.payload == ""


def test_of_an_event_we_act_on_only_the_fields_we_use_are_kept(client, db_session, clock, toss):
    _paid_documented_payment(db_session, clock, toss)
    body = fixture_json("webhook.payment-status-changed.json")
    body["data"]["padding"] = ["x" * 1000] * 40  # a large field we never read
    body["data"]["billingKey"] = "bk_in_a_payment_body"

    assert _post(client, json.dumps(body).encode()).status_code == 200

    [event] = _events(db_session)
    kept = json.loads(event.payload)
    assert kept["data"]["paymentKey"] == PAYMENT_KEY and kept["data"]["orderId"] == ORDER_ID
    assert "padding" not in kept["data"] and "billingKey" not in kept["data"] and len(event.payload) < 1_000
    assert event.status == "processed" and toss.get_calls == [PAYMENT_KEY]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"eventType": "PAYMENT_STATUS_CHANGED", "data": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001,
        b'{"eventType": "CUSTOMER_STATUS_CHANGED", "data": {"billingKey": "bk_deep_secret", "nested": '
        + b"[" * 400
        + b"]" * 400
        + b"}}",
    ],
    ids=["array", "object-in-an-event", "deep-but-parseable"],
)
def test_a_deeply_nested_body_is_recorded_and_answered_like_other_garbage(client, db_session, toss, body):
    response = _post(client, body)
    assert response.status_code == 200
    [event] = _events(db_session)
    assert event.status == "ignored" and len(event.payload) <= 4_100
    assert "bk_deep_secret" not in event.payload
    assert toss.get_calls == []


@pytest.mark.settings(webhook_rate_limit="3 per minute")
def test_deliveries_past_the_rate_limit_of_one_sender_get_429_and_are_not_stored(client, db_session):
    answers = [_post(client, b"{}", transmission_id=f"whtrans_rl_{n}").status_code for n in range(5)]
    other = _post(client, b"{}", transmission_id="whtrans_rl_other", environ_overrides={"REMOTE_ADDR": "10.1.2.3"})

    assert answers == [200, 200, 200, 429, 429] and other.status_code == 200
    assert len(_events(db_session)) == 4


def _database_bytes(path: str) -> int:
    import os

    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
