"""The merchant raises a plan price, then applies it to existing subscribers through the admin form."""

from __future__ import annotations

from sqlalchemy import select

from storefront.models import PriceChange, Subscription
from tests.billing.consent_support import kst
from tests.conftest import csrf_token
from tests.web.admin_support import login_admin, make_paid


def price_changes(db_session) -> list[PriceChange]:
    db_session.expire_all()
    return list(db_session.scalars(select(PriceChange).order_by(PriceChange.id)))


def apply(client, plan_id: int, effective_on: str, amount_won: str):
    path = f"/admin/plans/{plan_id}/edit"
    return client.post(
        f"/admin/plans/{plan_id}/apply-price",
        data={"csrf_token": csrf_token(client, path), "effective_on": effective_on, "amount_won": amount_won},
    )


def test_admin_applies_a_raised_plan_price_to_existing_subscribers_from_a_date_30_days_ahead(
    client, auth, db_session, clock
):
    paid = make_paid(db_session, clock.now())  # 9,900원, renews 2026-04-10 10:00 KST
    admin = login_admin(auth, db_session, clock.now())
    plan_path = f"/admin/plans/{paid.plan.id}/edit"
    response = client.post(
        plan_path,
        data={
            "csrf_token": csrf_token(client, plan_path),
            "name": "월간",
            "amount_won": "12900",
            "trial_days": "0",
            "position": "0",
        },
        follow_redirects=True,
    )
    assert "기존 구독 1건은 새 가격에 별도로 동의하기 전까지 기존 가격으로" in response.get_data(as_text=True)
    assert price_changes(db_session) == []  # editing the price alone changes no subscriber

    page = client.get(plan_path).get_data(as_text=True)
    assert "기존 구독자에게 새 가격 적용" in page and 'min="2026-04-09"' in page and "1건이 다른 금액으로" in page

    too_soon = apply(client, paid.plan.id, "2026-04-08", "12900")
    assert too_soon.status_code == 400
    assert "적용일은 오늘부터 30일 뒤(2026-04-09) 이후여야 합니다." in too_soon.get_data(as_text=True)
    stale = apply(client, paid.plan.id, "2026-04-20", "9900")
    assert stale.status_code == 400 and "가격이 바뀌었습니다" in stale.get_data(as_text=True)
    assert apply(client, paid.plan.id, "", "12900").status_code == 400
    assert price_changes(db_session) == []

    response = apply(client, paid.plan.id, "2026-04-20", "12900")
    assert response.status_code == 302
    [change] = price_changes(db_session)
    assert (
        change.subscription_id,
        change.kind,
        change.reason,
        change.old_amount_won,
        change.new_amount_won,
        change.effective_at,
        change.status,
        change.created_by_id,
    ) == (paid.subscription.id, "price_increase", "plan_price", 9900, 12900, kst(2026, 5, 10, 10), "pending", admin.id)
    assert db_session.get(Subscription, paid.subscription.id).amount_won == 9900  # nothing raised without consent
    flashed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "동의 요청 예정 1건" in flashed

    detail = client.get(f"/admin/subscriptions/{paid.subscription.id}").get_data(as_text=True)
    assert "가격 변경·유료 전환" in detail and "응답 대기" in detail and "12,900원" in detail

    again = apply(client, paid.plan.id, "2026-04-20", "12900")  # a second click asks nobody twice
    assert again.status_code == 302 and len(price_changes(db_session)) == 1


def test_shoppers_cannot_apply_prices(client, auth, db_session, clock):
    paid = make_paid(db_session, clock.now())
    auth.signup()
    response = client.post(
        f"/admin/plans/{paid.plan.id}/apply-price",
        data={"csrf_token": csrf_token(client, "/"), "effective_on": "2026-05-01", "amount_won": "9900"},
    )
    assert response.status_code == 403
    assert price_changes(db_session) == []
