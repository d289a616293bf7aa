"""Checkout through the real forms: consent, the card window page, Toss's success and fail redirects.

Toss is the FakeToss (tests/fakes.py): its ledger holds every approved payment, so the tests
count the money that moved, not calls to our own code.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from sqlalchemy import func, select

from storefront.billing.wallet.vault import fingerprint
from storefront.models import AuditLog, BillingKey, Charge, CheckoutIntent, Consent, EmailMessage, Subscription
from storefront.toss.errors import Category, TossError
from storefront.web.legal import TERMS_VERSION
from tests.conftest import csrf_token
from tests.fakes import decline, hard_decline
from tests.web.checkout_support import (  # noqa: F401
    Shopper,
    catalog,
    intent_token,
    local,
    make_catalog,
    new_auth_key,
    shopper,
    toss,
)


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


# -- the order page -------------------------------------------------------------------------------


def test_a_guest_is_sent_to_sign_up_and_comes_back_to_the_order(client, db_session, catalog):
    response = client.get(f"/subscribe/{catalog.monthly.id}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/signup?next=/subscribe/{catalog.monthly.id}"
    signup = Shopper(client, db_session).auth.signup(next=f"/subscribe/{catalog.monthly.id}")
    assert signup.headers["Location"] == f"/subscribe/{catalog.monthly.id}"
    assert client.get(signup.headers["Location"]).status_code == 200


def test_the_order_page_shows_price_cycle_dates_cancel_and_unticked_consents(shopper, catalog):
    page = shopper.client.get(f"/subscribe/{catalog.monthly.id}").get_data(as_text=True)

    assert "매일 영어 회화" in page and "월간 베이직" in page
    assert "9,900원" in page and "부가가치세(VAT) 포함" in page
    assert "매월 자동 결제" in page
    # the clock says 2026-03-10 10:00 KST: first charge today, next on the same day next month at 10:00
    assert "오늘 (2026년 3월 10일) 9,900원" in page
    assert "2026년 4월 10일 (10시 무렵)" in page
    assert "24시간 언제든 해지" in page and 'href="/account"' in page
    assert 'href="/terms"' in page
    for name in ("agree_terms", "agree_renewal"):
        box = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
        assert 'type="checkbox"' in box and "checked" not in box
    assert 'id="business-info"' in page  # the footer reviewers check, on the payment page too


def test_without_both_consents_nothing_is_recorded(shopper, catalog, db_session):
    path = f"/subscribe/{catalog.monthly.id}"
    for data in ({}, {"agree_terms": "y"}, {"agree_renewal": "y"}):
        response = shopper.client.post(path, data={"csrf_token": csrf_token(shopper.client, path), **data})
        assert response.status_code == 400
        assert "동의해야 구독할 수 있습니다" in response.get_data(as_text=True)
    assert count(db_session, Consent) == 0 and count(db_session, CheckoutIntent) == 0
    assert shopper.client.post(path, data={"agree_terms": "y", "agree_renewal": "y"}).status_code == 400  # no CSRF
    assert count(db_session, CheckoutIntent) == 0


def test_consenting_records_both_consents_and_the_intent_then_opens_the_window(shopper, catalog, db_session, app):
    page = shopper.card_page(catalog.monthly)

    terms, renewal = db_session.scalars(select(Consent).order_by(Consent.id)).all()
    assert (terms.kind, renewal.kind) == ("terms", "auto_renewal")
    for consent in (terms, renewal):
        assert (consent.user_id, consent.decision, consent.text_version, consent.ip) == (
            shopper.user.id,
            "agreed",
            TERMS_VERSION,
            "127.0.0.1",
        )
    shown = json.loads(renewal.detail)
    assert (shown["amount_won"], shown["interval"], shown["first_charge_at"]) == (
        9900,
        "month",
        "2026-03-10T01:00:00+00:00",
    )
    intent = db_session.scalars(select(CheckoutIntent)).one()
    assert (intent.purpose, intent.plan_id, intent.amount_won, intent.consent_id) == (
        "subscribe",
        catalog.monthly.id,
        9900,
        renewal.id,
    )

    button = shopper.toss_button(page)
    config = app.config["STOREFRONT"]
    assert button["client_key"] == config.toss_client_key
    assert button["customer_key"] == shopper.user.customer_key
    assert button["success_url"] == f"http://127.0.0.1:5000/billing/success?intent={intent.token}"
    assert button["fail_url"] == f"http://127.0.0.1:5000/billing/fail?intent={intent.token}"
    assert button["customer_email"] == shopper.email
    assert f'<script src="{config.toss_sdk_url}"></script>' in page
    assert '<script src="/static/js/checkout.js"></script>' in page
    assert config.toss_secret_key not in page
    assert re.search(r"<script>(?!</script>)", page) is None  # no inline script: the CSP forbids them


def test_the_checkout_script_calls_request_billing_auth_with_the_page_data(app):
    text = Path(app.static_folder, "js", "checkout.js").read_text(encoding="utf-8")
    for piece in (
        "TossPayments(data.clientKey)",
        ".payment({ customerKey: data.customerKey })",
        "requestBillingAuth({",
        "method: 'CARD'",
        "successUrl: data.successUrl",
        "failUrl: data.failUrl",
        "customerEmail:",
        "customerName:",
    ):
        assert piece in text
    assert "amount" not in text.replace("The amount is not here", "")


# -- success ----------------------------------------------------------------------------------------


def test_subscribing_charges_the_first_period_once_and_shows_the_result(shopper, catalog, db_session, toss):
    response = shopper.subscribe(catalog.monthly)

    [sub] = shopper.subscriptions()
    assert response.status_code == 302 and response.headers["Location"] == f"/billing/result/{sub.id}"
    assert (sub.status, sub.amount_won, sub.plan_id) == ("active", 9900, catalog.monthly.id)
    [payment] = toss.approved
    assert payment.total_amount == 9900 and payment.order_id == toss.calls[0].idempotency_key
    assert toss.calls[0].customer_key == shopper.user.customer_key
    [issue] = toss.issue_calls
    assert issue[1] == shopper.user.customer_key and issue[2].startswith("billing-auth-")

    page = shopper.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "결제가 완료되었습니다" in page
    assert "현대 43301234****123*" in page  # the masked card, never more
    assert "9,900원" in page and "2026년 4월 10일" in page
    assert payment.receipt_url in page and payment.order_id in page
    # the consents now point at the subscription they were given for
    assert {c.subscription_id for c in db_session.scalars(select(Consent))} == {sub.id}
    kinds = sorted(db_session.scalars(select(EmailMessage.kind).where(EmailMessage.kind != "signup_confirm")))
    assert kinds == ["card_registered", "payment_receipt"]


def test_a_customer_key_that_is_not_the_users_is_refused_and_changes_nothing(shopper, catalog, db_session, toss):
    button = shopper.toss_button(shopper.card_page(catalog.monthly))
    response = shopper.come_back(button, customer_key="someone-elses-key")

    assert response.status_code == 403
    assert "계정이 다릅니다" in response.get_data(as_text=True)
    assert toss.issue_calls == [] and toss.calls == []
    assert count(db_session, BillingKey) == 0 and count(db_session, Subscription) == 0
    assert db_session.scalars(select(CheckoutIntent)).one().used_at is None
    # the right shopper can still finish with the same intent
    assert shopper.come_back(button).status_code == 302
    assert len(toss.approved) == 1


def test_a_replayed_auth_key_is_refused(shopper, catalog, db_session, toss):
    auth_key = new_auth_key()
    button = shopper.toss_button(shopper.card_page(catalog.monthly))
    first = shopper.come_back(button, auth_key=auth_key)
    assert first.status_code == 302

    # the same URL again (a reload, the back button): straight to the same result, nothing charged again
    again = shopper.come_back(button, auth_key=auth_key)
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    # the authKey on a brand-new intent: refused before Toss is asked
    other = shopper.toss_button(shopper.card_page(catalog.trial))
    replay = shopper.come_back(other, auth_key=auth_key)
    assert replay.status_code == 409 and "이미 사용된 카드 인증" in replay.get_data(as_text=True)
    assert len(toss.issue_calls) == 1 and len(toss.approved) == 1
    assert count(db_session, Subscription) == 1


def test_an_expired_intent_is_refused(shopper, catalog, db_session, toss, clock):
    button = shopper.toss_button(shopper.card_page(catalog.monthly))
    clock.advance(minutes=31)
    response = shopper.come_back(button)
    assert response.status_code == 410 and "유효 시간(30분)이 지났습니다" in response.get_data(as_text=True)
    assert f'href="/subscribe/{catalog.monthly.id}"' in response.get_data(as_text=True)  # start again
    assert toss.issue_calls == [] and count(db_session, Subscription) == 0


def test_another_users_intent_and_a_missing_one_are_refused(client, db_session, catalog, toss):
    alice = Shopper(client, db_session, "alice@example.com").signup()
    button = alice.toss_button(alice.card_page(catalog.monthly))
    alice.auth.logout()

    # signed out: nothing happens, a clear page (not a 500)
    response = alice.come_back(button)
    assert response.status_code == 401 and "로그인이 필요합니다" in response.get_data(as_text=True)

    bob = Shopper(client, db_session, "bob@example.com").signup()
    stolen = bob.come_back(button, customer_key=bob.user.customer_key)  # Alice's intent token, Bob's key
    assert stolen.status_code == 404
    assert bob.client.get("/billing/success?intent=&customerKey=x&authKey=y").status_code == 400
    assert toss.issue_calls == [] and count(db_session, Subscription) == 0


def test_a_tampered_amount_or_plan_cannot_change_what_is_charged(shopper, catalog, db_session, toss):
    # extra fields in the consent form and extra parameters on the redirect are ignored
    page = shopper.card_page(catalog.monthly, amount_won="100", amount="100", plan_id=str(catalog.premium.id))
    response = shopper.come_back(
        shopper.toss_button(page),
        amount="100",
        plan=str(catalog.yearly.id),
        plan_id=str(catalog.yearly.id),
        amount_won="100",
    )
    assert response.status_code == 302
    assert [p.total_amount for p in toss.approved] == [9900]
    [sub] = shopper.subscriptions()
    assert (sub.plan_id, sub.amount_won) == (catalog.monthly.id, 9900)


def test_the_price_shown_is_charged_even_if_the_plan_price_changes_meanwhile(shopper, catalog, db_session, toss):
    button = shopper.toss_button(shopper.card_page(catalog.monthly))
    catalog.monthly.amount_won = 12900  # the merchant edits the price while the window is open
    db_session.commit()
    shopper.come_back(button)
    assert [p.total_amount for p in toss.approved] == [9900]


def test_the_database_file_never_holds_a_plaintext_billing_key(shopper, catalog, db_session, toss, config):
    shopper.subscribe(catalog.monthly)
    [billing_key] = toss.billing_keys
    db_session.commit()
    db_session.close()

    db_file = config.database_url.removeprefix("sqlite:///")
    files = [db_file, db_file + "-wal"]
    contents = b"".join(Path(path).read_bytes() for path in files if os.path.exists(path))
    assert contents, "the test must read the database"
    assert billing_key.encode() not in contents
    row = db_session.scalars(select(BillingKey)).one()
    assert row.sealed and row.key_id and row.fingerprint == fingerprint(billing_key)
    assert b"43301234****123*" in contents  # sanity: the file does hold what we wrote in clear


def test_every_opening_of_a_billing_key_leaves_an_audit_row(shopper, catalog, db_session, toss, clock, app):
    from storefront.billing.recurring import charging

    response = shopper.subscribe(catalog.monthly)
    [sub] = shopper.subscriptions()
    clock.set(sub.next_charge_at)
    found = app.extensions["storefront"]
    charging.charge_period(
        db_session,
        sub.id,
        toss=toss,
        vault=found.vault,
        notifier=found.notifier,
        clock=clock,
        config=app.config["STOREFRONT"],
    )
    shopper.change_card(sub.id)  # the old key is opened once more, to delete it at Toss

    db_session.expire_all()
    opens = db_session.scalars(
        select(AuditLog).where(AuditLog.action == "open_billing_key").order_by(AuditLog.id)
    ).all()
    assert len(opens) == len(toss.calls) + len(toss.deleted_keys) == 3
    assert [(a.actor_type, a.actor_id) for a in opens] == [
        ("user", sub.user_id),
        ("worker", None),
        ("user", sub.user_id),
    ]
    assert all(a.ip and a.reason and a.billing_key_id for a in opens)
    registered = db_session.scalars(select(AuditLog).where(AuditLog.action == "register_billing_key")).all()
    assert len(registered) == 2 and response.status_code == 302


# -- trials, declines, retries ----------------------------------------------------------------------


def test_a_trial_plan_charges_nothing_now_and_says_when_the_first_charge_is_asked(shopper, catalog, db_session, toss):
    response = shopper.subscribe(catalog.trial)

    assert toss.calls == [] and toss.approved == []
    [sub] = shopper.subscriptions()
    assert sub.status == "trialing" and count(db_session, Charge) == 0
    assert sub.next_charge_at == sub.trial_end_at == sub.current_period_end
    assert sub.trial_end_at.isoformat() == "2026-03-24T01:00:00+00:00"  # 14 KST days later at 10:00
    assert sub.billing_key.sealed is not None
    page = shopper.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "무료 체험이 시작되었습니다" in page and "0원" in page
    assert "2026년 3월 24일" in page and "유료 전환 동의를 따로 요청" in page and "동의하신 경우에만" in page


def test_a_declined_first_charge_keeps_the_card_and_a_new_card_charges_once(shopper, catalog, db_session, toss, clock):
    toss.will_for(shopper.user.customer_key, decline())
    response = shopper.subscribe(catalog.monthly)

    [sub] = shopper.subscriptions()
    assert sub.status == "incomplete" and toss.approved == []
    old_card = sub.billing_key
    assert old_card.sealed is not None and old_card.destroyed_at is None
    page = shopper.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "결제가 완료되지 않았습니다" in page and "잔액 부족 또는 한도 초과" in page
    assert "다른 카드로 다시 시도" in page and "같은 카드로 다시 시도" in page
    account = shopper.client.get("/account").get_data(as_text=True)
    assert "결제 미완료" in account and "이용 중" not in account

    clock.advance(minutes=2)
    retried = shopper.change_card(sub.id)
    assert retried.headers["Location"] == f"/billing/result/{sub.id}"
    assert "결제가 완료되었습니다" in shopper.client.get(retried.headers["Location"]).get_data(as_text=True)
    [sub] = shopper.subscriptions()
    assert sub.status == "active" and sub.billing_key_id != old_card.id
    assert [p.total_amount for p in toss.approved] == [9900]
    db_session.refresh(old_card)
    assert old_card.sealed is None and old_card.deactivated_at is not None  # replaced: destroyed, row kept


def test_retrying_the_same_card_after_a_soft_decline_charges_once(shopper, catalog, db_session, toss, clock):
    toss.will_for(shopper.user.customer_key, decline())
    response = shopper.subscribe(catalog.monthly)
    [sub] = shopper.subscriptions()

    clock.advance(minutes=5)
    result_page = response.headers["Location"]
    retry = shopper.post(f"/billing/retry/{sub.id}", form_page=result_page)
    assert retry.headers["Location"] == result_page
    assert "결제가 완료되었습니다" in shopper.client.get(result_page).get_data(as_text=True)
    again = shopper.post(f"/billing/retry/{sub.id}", form_page="/account")  # a double click later
    assert again.status_code == 302
    assert [p.total_amount for p in toss.approved] == [9900]
    assert shopper.subscriptions()[0].status == "active"


def test_a_hard_decline_offers_another_card_only(shopper, catalog, toss):
    toss.will_for(shopper.user.customer_key, hard_decline("INVALID_STOPPED_CARD"))
    response = shopper.subscribe(catalog.monthly)
    page = shopper.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "정지된 카드입니다" in page
    assert "다른 카드로 다시 시도" in page and "같은 카드로 다시 시도" not in page


def test_a_new_checkout_replaces_an_unpaid_one_and_forgets_its_card(shopper, catalog, db_session, toss, clock):
    toss.will_for(shopper.user.customer_key, decline())
    shopper.subscribe(catalog.monthly)
    [first] = shopper.subscriptions()
    clock.advance(minutes=3)
    shopper.subscribe(catalog.yearly)

    first, second = shopper.subscriptions()
    assert (first.status, first.ended_reason) == ("canceled", "superseded")
    assert first.billing_key.sealed is None and first.billing_key.destroyed_at is not None
    assert second.status == "active" and [p.total_amount for p in toss.approved] == [99000]


def test_a_live_subscription_blocks_a_second_checkout_of_the_product(shopper, catalog, db_session, toss):
    shopper.subscribe(catalog.monthly)
    page = shopper.client.get(f"/subscribe/{catalog.premium.id}").get_data(as_text=True)
    assert "이미 구독 중인 상품입니다" in page and "동의하고 카드 등록하기" not in page
    response = shopper.consent(catalog.premium)
    assert response.status_code == 409 and count(db_session, CheckoutIntent) == 1


def test_a_card_toss_refuses_to_register_shows_why_and_stores_nothing(shopper, catalog, db_session, toss):
    toss.issue_errors.append(TossError("INVALID_CARD_EXPIRATION", "유효기간 오류", 400, Category.HARD_DECLINE))
    response = shopper.subscribe(catalog.monthly)
    assert response.status_code == 422
    assert "카드 유효기간이 만료되었습니다" in response.get_data(as_text=True)
    assert count(db_session, BillingKey) == 0 and count(db_session, Subscription) == 0


def test_an_unknown_outcome_of_the_exchange_is_asked_again_with_the_same_key(shopper, catalog, toss):
    toss.issue_errors.append(TossError("TIMEOUT", "read timed out", None, Category.UNKNOWN_OUTCOME))
    response = shopper.subscribe(catalog.monthly)
    assert response.status_code == 302
    first, second = toss.issue_calls
    assert first == second  # same authKey, customerKey and Idempotency-Key
    assert len(toss.approved) == 1


# -- fail ---------------------------------------------------------------------------------------------


def test_closing_the_window_says_so_in_korean_and_offers_a_retry(shopper, catalog):
    button = shopper.toss_button(shopper.card_page(catalog.monthly))
    token = intent_token(button["fail_url"])
    response = shopper.client.get(
        local(button["fail_url"]) + "&code=PAY_PROCESS_CANCELED"
        "&message=%EC%82%AC%EC%9A%A9%EC%9E%90%EA%B0%80+%EC%B7%A8%EC%86%8C"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "카드 등록을 취소하셨습니다" in page and "결제는 이루어지지 않았습니다" in page
    assert f'href="/billing/card?intent={token}"' in page  # 다시 시도 reopens the same order


def test_an_unsupported_card_is_explained_and_toss_text_is_escaped(shopper, catalog):
    button = shopper.toss_button(shopper.card_page(catalog.monthly))
    response = shopper.client.get(
        local(button["fail_url"]) + "&code=NOT_SUPPORTED_CARD_TYPE&message=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "자동결제(정기결제)를 지원하지 않는 카드입니다" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_fail_page_never_breaks_on_odd_input(client, shopper):
    for query in ("", "?code=", "?code=WHATEVER&message=" + "x" * 5000, "?intent=nope&code=REJECT_CARD_COMPANY"):
        response = client.get("/billing/fail" + query)
        assert response.status_code == 200, query
        assert "카드를 등록하지 못했습니다" in response.get_data(as_text=True)


def test_a_guest_on_the_result_page_is_sent_to_login(client, db_session, catalog):
    response = client.get("/billing/result/1")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_the_card_page_without_a_fresh_intent_goes_back_to_the_account(shopper, catalog, clock):
    page = shopper.card_page(catalog.monthly)
    token = intent_token(shopper.toss_button(page)["success_url"])
    clock.advance(minutes=45)
    response = shopper.client.get(f"/billing/card?intent={token}")
    assert response.status_code == 302 and response.headers["Location"] == "/account"


def test_a_free_trial_asks_for_a_mobile_number_for_its_conversion_sms(shopper, catalog, db_session):
    page = shopper.client.get(f"/subscribe/{catalog.trial.id}").get_data(as_text=True)
    assert 'name="phone"' in page
    assert 'name="phone"' not in shopper.client.get(f"/subscribe/{catalog.monthly.id}").get_data(as_text=True)

    refused = shopper.consent(catalog.trial, phone="")
    assert refused.status_code == 400
    assert "휴대전화 번호가 필요합니다" in refused.get_data(as_text=True)
    assert count(db_session, CheckoutIntent) == 0

    bad = shopper.consent(catalog.trial, phone="02-555-0100")
    assert bad.status_code == 400 and "휴대전화 번호 형식" in bad.get_data(as_text=True)

    assert shopper.consent(catalog.trial, phone="010-9876-5432").status_code == 302
    db_session.expire_all()
    assert shopper.user.phone == "01098765432"
    # once the account has a number, the next trial checkout does not ask again
    assert 'name="phone"' not in shopper.client.get(f"/subscribe/{catalog.trial.id}").get_data(as_text=True)
