"""회원탈퇴 (/account/delete) through its form: refused while subscribed; otherwise personal data and cards go,
the records the law keeps stay, and every session of the account ends."""

from __future__ import annotations

from sqlalchemy import func, select

from storefront.models import BillingKey, Charge, Consent, Refund, Subscription, User
from tests.conftest import Auth, csrf_token
from tests.web.checkout_support import Shopper, catalog, shopper, toss  # noqa: F401

PASSWORD = "correct horse 1"
PATH = "/account/delete"


def subscribed(shopper: Shopper, plan) -> Subscription:
    assert shopper.subscribe(plan).status_code == 302
    [sub] = [s for s in shopper.subscriptions() if s.plan_id == plan.id]
    return sub


def delete(shopper: Shopper, **data: str):
    return shopper.post(PATH, form_page=PATH, **data)


def card_left_behind(session, sub: Subscription) -> None:
    """An ended subscription whose card was not released (the worker died in between)."""
    session.expire_all()
    row = session.get(Subscription, sub.id)
    row.status, row.ended_reason = "canceled", "canceled_at_period_end"
    session.commit()


def test_deletion_is_refused_while_a_subscription_is_live(shopper, catalog, db_session):
    sub = subscribed(shopper, catalog.monthly)
    page = shopper.client.get(PATH).get_data(as_text=True)
    assert "이용 중인 구독이 있어 지금은 탈퇴할 수 없습니다" in page
    assert f"/account/subscriptions/{sub.id}/cancel" in page and "탈퇴하기" not in page

    response = shopper.client.post(
        PATH, data={"csrf_token": csrf_token(shopper.client, "/account"), "password": PASSWORD, "confirm": "y"}
    )
    assert response.status_code == 400
    assert "먼저 해지해 주세요" in response.get_data(as_text=True)
    user = shopper.user
    assert (user.name, user.email) == ("김구매", shopper.email)
    assert shopper.subscriptions()[0].billing_key.sealed is not None

    shopper.post(f"/account/subscriptions/{sub.id}/cancel")  # set to cancel at period end: still live
    response = shopper.client.post(
        PATH, data={"csrf_token": csrf_token(shopper.client, "/account"), "password": PASSWORD, "confirm": "y"}
    )
    assert response.status_code == 400 and shopper.user.email == shopper.email


def test_a_wrong_password_or_no_confirmation_changes_nothing(shopper, catalog, db_session):
    page = shopper.client.get(PATH).get_data(as_text=True)
    assert "탈퇴하기" in page and "5년" in page
    cases = [
        ({"password": "wrong password", "confirm": "y"}, "비밀번호가 올바르지 않습니다"),
        ({"password": PASSWORD}, "탈퇴 안내를 확인하고 동의해 주세요"),
        ({"confirm": "y"}, "비밀번호를 입력해 주세요"),
    ]
    for data, message in cases:
        response = delete(shopper, **data)
        assert response.status_code == 400 and message in response.get_data(as_text=True), data
    assert shopper.client.post(PATH, data={"password": PASSWORD, "confirm": "y"}).status_code == 400  # no CSRF
    assert shopper.user.name == "김구매"
    assert shopper.client.get("/account").status_code == 200  # still signed in


def test_deleting_anonymises_keeps_the_records_destroys_the_cards_and_logs_out(app, shopper, catalog, db_session, toss):
    sub = subscribed(shopper, catalog.monthly)
    billing_key = toss.calls[0].billing_key
    card_left_behind(db_session, sub)
    user_id = shopper.user.id
    other_browser = app.test_client()
    with app.app_context():  # its own app context: Flask-Login caches the user on `g`, which the test's context shares
        assert Auth(other_browser).login().status_code == 302
        assert other_browser.get("/account").status_code == 200

    response = delete(shopper, password=PASSWORD, confirm="y")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "회원 탈퇴가 완료되었습니다" in shopper.client.get("/").get_data(as_text=True)

    db_session.expire_all()
    user = db_session.get(User, user_id)
    assert (user.name, user.email, user.phone, user.marketing_opt_in) == (
        "탈퇴회원",
        f"deleted-{user_id}@invalid",
        None,
        False,
    )
    assert PASSWORD not in user.password_hash and not user.password_hash.startswith("$argon2")
    card = db_session.scalars(select(BillingKey).where(BillingKey.user_id == user_id)).one()
    assert card.sealed is None and card.destroyed_at is not None
    assert toss.deleted_keys == [billing_key]
    # the payment, consent and subscription rows stay (5 years), now pointing at the anonymous member
    assert (
        db_session.scalar(
            select(func.count(Charge.id))
            .join(Subscription)
            .where(Subscription.user_id == user_id, Charge.status == "paid")
        )
        == 1
    )
    assert db_session.scalar(select(func.count(Consent.id)).where(Consent.user_id == user_id)) >= 2

    for browser in (shopper.client, other_browser):  # this and every other session of the account end
        with app.app_context():
            assert browser.get("/account").headers["Location"].startswith("/login")
    with app.app_context():
        assert Auth(app.test_client()).login().status_code == 200  # the old password opens nothing
    with app.app_context():
        assert Auth(app.test_client()).signup().status_code == 302  # the address is free to join again


def test_after_ending_now_with_a_refund_the_account_can_be_deleted(shopper, catalog, db_session, toss):
    sub = subscribed(shopper, catalog.monthly)
    shopper.post(f"/account/subscriptions/{sub.id}/cancel-now", form_page=f"/account/subscriptions/{sub.id}/cancel")
    assert "탈퇴하기" in shopper.client.get(PATH).get_data(as_text=True)
    assert delete(shopper, password=PASSWORD, confirm="y").status_code == 302
    db_session.expire_all()
    [refund] = db_session.scalars(select(Refund)).all()
    assert refund.status == "done" and refund.requested_by.name == "탈퇴회원"
    assert len(toss.deleted_keys) == 1  # released once, when the subscription ended


def test_an_admin_account_cannot_delete_itself(client, db_session, clock):
    from storefront import accounts

    accounts.create_user(
        db_session,
        accounts.NewUser(email="boss@example.com", password=PASSWORD, name="관리자", is_admin=True),
        now=clock.now(),
        cheap_hash=True,
    )
    db_session.commit()
    boss = Shopper(client, db_session, "boss@example.com")
    assert boss.auth.login(email="boss@example.com").status_code == 302
    response = delete(boss, password=PASSWORD, confirm="y")
    assert response.status_code == 400 and "관리자 계정은 탈퇴할 수 없습니다" in response.get_data(as_text=True)
    assert boss.user.name == "관리자"
