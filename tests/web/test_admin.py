"""The admin: who may enter, what its pages show (and never show), catalog forms, access logging."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from storefront.models import AuditLog, Category, Consent, EmailMessage, Plan, Product, Subscription, WebhookEvent
from tests.conftest import csrf_token
from tests.web.admin_support import FakeToss, login_admin, make_catalog, make_paid

PAGES = [
    "/admin/",
    "/admin/subscriptions",
    "/admin/customers",
    "/admin/products",
    "/admin/products/new",
    "/admin/refunds",
    "/admin/outbox",
    "/admin/audit",
    "/admin/webhooks",
]
FOOTER = "통신판매업 신고번호"


@pytest.fixture
def toss(clock) -> FakeToss:
    return FakeToss(clock)


def _figure(page: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]*)<', page)
    assert match, name
    return match.group(1)


@pytest.mark.parametrize("path", PAGES)
def test_guests_are_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", PAGES)
def test_shoppers_get_403_in_the_site_layout(client, auth, path):
    auth.signup()
    response = client.get(path)
    assert response.status_code == 403
    assert "권한이 없습니다" in response.get_data(as_text=True) and FOOTER in response.get_data(as_text=True)


def test_shopper_cannot_post_admin_forms(client, auth, db_session, clock, toss):
    paid = make_paid(db_session, clock.now(), toss=toss)
    auth.signup()
    token = csrf_token(client, "/")
    response = client.post(
        f"/admin/attempts/{paid.attempt.id}/refund",
        data={
            "csrf_token": token,
            "amount_won": "9900",
            "reason": "x",
            "request_id": "0b7e3c2a-8d1f-4c55-9a39-6f0f7a1d2e11",
        },
    )
    assert response.status_code == 403
    assert toss.cancel_calls == []


@pytest.mark.parametrize("path", PAGES)
def test_admin_pages_render_in_the_site_layout(client, auth, db_session, clock, path):
    login_admin(auth, db_session, clock.now())
    response = client.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert FOOTER in page and "관리자 메뉴" in page
    assert "<script>" not in page and "style=" not in page


def test_admin_link_in_the_header_only_for_admins(client, auth, db_session, clock):
    auth.signup()
    assert 'href="/admin/"' not in client.get("/").get_data(as_text=True)
    auth.logout()
    login_admin(auth, db_session, clock.now())
    assert 'href="/admin/"' in client.get("/").get_data(as_text=True)


def test_dashboard_counts(client, auth, db_session, clock, toss):
    plan = make_catalog(db_session)
    make_paid(db_session, clock.now(), toss=toss, plan=plan, email="a@example.com")
    make_paid(db_session, clock.now(), toss=toss, plan=plan, email="b@example.com", status="past_due")
    last_month = make_paid(
        db_session, clock.now() - timedelta(days=40), toss=toss, plan=plan, email="c@example.com", status="canceled"
    )
    last_month.charge.status = "failed"
    db_session.add(
        EmailMessage(
            dedup_key="d1",
            to="a@example.com",
            kind="receipt",
            subject="s",
            body_text="b",
            status="queued",
            created_at=clock.now(),
        )
    )
    db_session.add(
        EmailMessage(
            dedup_key="d2",
            to="b@example.com",
            kind="receipt",
            subject="s",
            body_text="b",
            status="failed",
            attempts=3,
            created_at=clock.now(),
        )
    )
    db_session.commit()
    login_admin(auth, db_session, clock.now())
    page = client.get("/admin/").get_data(as_text=True)
    assert _figure(page, "subscriptions-active") == "1"
    assert _figure(page, "subscriptions-past_due") == "1"
    assert _figure(page, "subscriptions-canceled") == "1"
    assert _figure(page, "subscriptions-trialing") == "0"
    assert _figure(page, "paid-today") == "19,800원"
    assert _figure(page, "paid-month") == "19,800원"  # the 40-day-old payment is last month
    assert _figure(page, "failed-charges") == "1"
    assert _figure(page, "emails-queued") == "1" and _figure(page, "emails-failed") == "1"


def test_subscription_list_filters_and_searches(client, auth, db_session, clock, toss):
    plan = make_catalog(db_session)
    make_paid(db_session, clock.now(), toss=toss, plan=plan, email="kim@example.com")
    make_paid(db_session, clock.now(), toss=toss, plan=plan, email="lee@example.com", status="past_due")
    login_admin(auth, db_session, clock.now())
    everyone = client.get("/admin/subscriptions").get_data(as_text=True)
    assert "kim@example.com" in everyone and "lee@example.com" in everyone
    late = client.get("/admin/subscriptions?status=past_due").get_data(as_text=True)
    assert "lee@example.com" in late and "kim@example.com" not in late
    found = client.get("/admin/subscriptions?q=KIM@").get_data(as_text=True)
    assert "kim@example.com" in found and "lee@example.com" not in found
    nothing = client.get("/admin/subscriptions?q=%25").get_data(as_text=True)  # % is searched literally
    assert "조건에 맞는 구독이 없습니다" in nothing


def test_subscription_detail_shows_the_money_trail_but_never_the_key(app, client, auth, db_session, clock, toss):
    from storefront.extensions import services

    paid = make_paid(db_session, clock.now(), toss=toss)
    services().vault.seal(paid.card, "bk_secret_value_123")
    failed_charge = paid.charge.__class__(
        subscription_id=paid.subscription.id,
        period_start=clock.now() + timedelta(days=31),
        period_end=clock.now() + timedelta(days=62),
        amount_won=9900,
        status="failed",
        failure_code="REJECT_CARD_COMPANY",
        failure_message="카드사 거절",
        created_at=clock.now(),
    )
    db_session.add(failed_charge)
    db_session.flush()
    db_session.add(
        paid.attempt.__class__(
            charge_id=failed_charge.id,
            order_id="sub-1-order-0002",
            idempotency_key="k2",
            amount_won=9900,
            status="failed",
            failure_code="REJECT_CARD_COMPANY",
            failure_message="카드사 거절",
            created_at=clock.now(),
            updated_at=clock.now(),
        )
    )
    db_session.add(
        Consent(
            user_id=paid.user.id,
            subscription_id=paid.subscription.id,
            kind="auto_renewal",
            decision="agreed",
            text_version="2026-03",
            detail="{}",
            ip="203.0.113.9",
            at=clock.now(),
        )
    )
    db_session.commit()
    admin = login_admin(auth, db_session, clock.now())

    page = client.get(f"/admin/subscriptions/{paid.subscription.id}").get_data(as_text=True)

    for shown in (
        "김구독",
        "buyer@example.com",
        "현대 43301234****123*",
        "sub-1-order-0001",
        "sub-1-order-0002",
        "REJECT_CARD_COMPANY",
        "카드사 거절",
        "https://dashboard.tosspayments.com/receipt/x",
        "자동갱신",
        "2026-03",
        "9,900원",
        "환불하기",
    ):
        assert shown in page, shown
    assert "bk_secret_value_123" not in page
    assert paid.card.fingerprint not in page
    audit = db_session.scalars(select(AuditLog).where(AuditLog.action == "admin_view_subscription")).one()
    assert (audit.actor_type, audit.actor_id, audit.subscription_id, audit.ip) == (
        "admin",
        admin.id,
        paid.subscription.id,
        "127.0.0.1",
    )
    assert audit.at == clock.now()


def test_customer_list_is_logged_as_personal_data_access(client, auth, db_session, clock, toss):
    make_paid(db_session, clock.now(), toss=toss)
    login_admin(auth, db_session, clock.now())
    page = client.get("/admin/customers?q=buyer").get_data(as_text=True)
    assert "buyer@example.com" in page and "010-1234-5678" in page and "1건" in page
    audit = db_session.scalars(select(AuditLog).where(AuditLog.action == "admin_list_customers")).one()
    assert "buyer" in audit.reason and audit.actor_type == "admin"


def test_a_stored_mobile_number_reads_with_its_hyphens(client, auth, db_session, clock, toss):
    paid = make_paid(db_session, clock.now(), toss=toss)
    paid.subscription.user.phone = "01098765432"  # as sign-up and the profile form store it
    db_session.commit()
    login_admin(auth, db_session, clock.now())
    for path in ("/admin/customers?q=buyer", f"/admin/subscriptions/{paid.subscription.id}"):
        page = client.get(path).get_data(as_text=True)
        assert "010-9876-5432" in page and "01098765432" not in page, path


def test_missing_subscription_is_404(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())
    assert client.get("/admin/subscriptions/999").status_code == 404


# -- catalog -------------------------------------------------------------------------------


def _product_data(client, path: str, **overrides) -> dict:
    category = overrides.pop("category_id")
    data = {
        "csrf_token": csrf_token(client, path),
        "category_id": str(category),
        "name": "프리미엄 노트",
        "slug": "premium-notes",
        "kind": "subscription",
        "summary": "요약",
        "description": "설명",
        "provision": "결제 즉시 제공",
        "image": "",
        "position": "0",
        "active": "y",
    }
    data.update(overrides)
    return data


def test_create_and_edit_a_product_through_the_form(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())
    category = Category(slug="apps", name="앱", description="", position=0)
    db_session.add(category)
    db_session.commit()

    response = client.post(
        "/admin/products/new", data=_product_data(client, "/admin/products/new", category_id=category.id)
    )
    assert response.status_code == 302
    product = db_session.scalars(select(Product)).one()
    assert (product.name, product.slug, product.active, product.provision) == (
        "프리미엄 노트",
        "premium-notes",
        True,
        "결제 즉시 제공",
    )

    edit = f"/admin/products/{product.id}/edit"
    assert 'value="프리미엄 노트"' in client.get(edit).get_data(as_text=True)
    response = client.post(edit, data=_product_data(client, edit, category_id=category.id, name="프리미엄 노트 플러스"))
    assert response.status_code == 302
    db_session.refresh(product)
    assert product.name == "프리미엄 노트 플러스"


def test_create_category_through_the_form(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())
    data = {"csrf_token": csrf_token(client, "/admin/products"), "name": "전자책", "slug": "ebooks"}
    assert client.post("/admin/categories", data=data).status_code == 302
    again = client.post("/admin/categories", data={**data, "name": "다른 이름"})
    assert again.status_code == 200 and "이미 쓰이는 slug입니다." in again.get_data(as_text=True)
    assert [(c.name, c.slug) for c in db_session.scalars(select(Category))] == [("전자책", "ebooks")]
    new_product_page = client.get("/admin/products/new").get_data(as_text=True)
    assert ">전자책</option>" in new_product_page


def test_product_form_errors_rerender_and_change_nothing(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())
    plan = make_catalog(db_session)
    db_session.commit()
    category_id = plan.product.category_id
    before = db_session.scalars(select(Product.name)).all()

    taken = client.post(
        "/admin/products/new",
        data=_product_data(client, "/admin/products/new", category_id=category_id, slug="cloud-notes"),
    )
    assert taken.status_code == 200 and "이미 쓰이는 slug입니다." in taken.get_data(as_text=True)
    bad = client.post(
        "/admin/products/new",
        data=_product_data(client, "/admin/products/new", category_id=category_id, name="", slug="Bad Slug!"),
    )
    page = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "상품명을 입력해 주세요." in page and "영문 소문자" in page
    no_category = client.post(
        "/admin/products/new", data=_product_data(client, "/admin/products/new", category_id=9999)
    )
    assert no_category.status_code == 200 and "올바르지 않은 선택값입니다." in no_category.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.scalars(select(Product.name)).all() == before


def test_post_without_csrf_is_refused(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())
    plan = make_catalog(db_session)
    db_session.commit()
    response = client.post(f"/admin/products/{plan.product_id}/toggle")
    assert response.status_code == 400
    db_session.refresh(plan.product)
    assert plan.product.active is True


def test_deactivate_and_reactivate_product_and_plan(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())
    plan = make_catalog(db_session)
    db_session.commit()
    token = csrf_token(client, "/admin/products")
    client.post(f"/admin/products/{plan.product_id}/toggle", data={"csrf_token": token})
    client.post(f"/admin/plans/{plan.id}/toggle", data={"csrf_token": token})
    db_session.expire_all()
    assert (plan.product.active, plan.active) == (False, False)
    client.post(f"/admin/products/{plan.product_id}/toggle", data={"csrf_token": token})
    db_session.expire_all()
    assert plan.product.active is True


def test_create_plan_through_the_form(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())
    plan = make_catalog(db_session)
    db_session.commit()
    path = f"/admin/products/{plan.product_id}/plans/new"
    too_cheap = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "name": "연간",
            "interval": "year",
            "amount_won": "0",
            "trial_days": "0",
            "position": "1",
        },
    )
    assert too_cheap.status_code == 200 and "100원 이상" in too_cheap.get_data(as_text=True)
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "name": "연간",
            "interval": "year",
            "amount_won": "99000",
            "trial_days": "7",
            "position": "1",
        },
    )
    assert response.status_code == 302
    yearly = db_session.scalars(select(Plan).where(Plan.name == "연간")).one()
    assert (yearly.interval, yearly.amount_won, yearly.trial_days, yearly.active) == ("year", 99000, 7, True)


def test_plan_price_change_warns_and_leaves_existing_subscriptions_alone(client, auth, db_session, clock, toss):
    paid = make_paid(db_session, clock.now(), toss=toss)
    login_admin(auth, db_session, clock.now())
    path = f"/admin/plans/{paid.plan.id}/edit"
    form_page = client.get(path).get_data(as_text=True)
    assert "기존 가격으로" in form_page and "별도로 동의하기 전까지" in form_page

    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "name": "월간",
            "amount_won": "12900",
            "trial_days": "0",
            "position": "0",
        },
        follow_redirects=True,
    )

    assert "기존 구독 1건은 새 가격에 별도로 동의하기 전까지 기존 가격으로" in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Plan, paid.plan.id).amount_won == 12900
    assert db_session.get(Subscription, paid.subscription.id).amount_won == 9900
    assert db_session.scalars(select(Consent)).all() == []  # asking for consent is another flow


# -- outbox, audit -------------------------------------------------------------------------


def test_outbox_shows_delivery_state_but_never_bodies(client, auth, db_session, clock):
    db_session.add(
        EmailMessage(
            dedup_key="reset-1",
            to="kim@example.com",
            kind="password_reset",
            subject="비밀번호",
            body_text="https://shop.example/reset/SECRET-TOKEN-123",
            body_html="<a>SECRET-TOKEN-123</a>",
            status="failed",
            attempts=2,
            last_error="SMTP 421 try later",
            created_at=clock.now(),
        )
    )
    db_session.commit()
    login_admin(auth, db_session, clock.now())
    page = client.get("/admin/outbox").get_data(as_text=True)
    for shown in ("kim@example.com", "password_reset", "SMTP 421 try later", "발송 실패"):
        assert shown in page
    assert "SECRET-TOKEN-123" not in page
    assert "kim@example.com" not in client.get("/admin/outbox?status=sent").get_data(as_text=True)


def test_audit_log_is_newest_first_and_paginated(client, auth, db_session, clock):
    start = clock.now() - timedelta(days=1)
    for i in range(60):
        db_session.add(
            AuditLog(
                at=start + timedelta(minutes=i),
                actor_type="worker",
                actor_id=None,
                action="open_billing_key",
                reason=f"renewal {i:02d}",
                ip="worker",
            )
        )
    db_session.commit()
    login_admin(auth, db_session, clock.now())
    first = client.get("/admin/audit").get_data(as_text=True)
    assert first.index("renewal 59") < first.index("renewal 58")
    assert "renewal 09" not in first and "1 / 2쪽" in first
    second = client.get("/admin/audit?page=2").get_data(as_text=True)
    assert "renewal 09" in second and "renewal 00" in second and "renewal 59" not in second


def test_webhook_events_page_filters_by_status(client, auth, db_session, clock):
    db_session.add_all(
        [
            WebhookEvent(
                transmission_id="whtrans_ok",
                event_type="PAYMENT_STATUS_CHANGED",
                payload="{}",
                status="processed",
                note="",
                received_at=clock.now(),
            ),
            WebhookEvent(
                transmission_id="whtrans_bad",
                event_type="unknown",
                payload="x",
                status="ignored",
                note="JSON 본문이 아닙니다.",
                received_at=clock.now(),
            ),
        ]
    )
    db_session.commit()
    login_admin(auth, db_session, clock.now())
    page = client.get("/admin/webhooks?status=ignored").get_data(as_text=True)
    assert "whtrans_bad" in page and "whtrans_ok" not in page
