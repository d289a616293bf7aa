"""준비 상태: red on a fresh `make run` (the .env.example demo values), green for a configured app, and each
check on its own, red then green."""

from __future__ import annotations

import contextvars
import dataclasses
import re
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from dotenv import dotenv_values
from flask import Flask
from redis import Redis
from rq import Queue, Worker
from rq.cron import CronScheduler
from sqlalchemy import select

from storefront import create_app, jobs
from storefront.config import ROOT, load_config
from storefront.extensions import db
from storefront.models import Plan, Product, User, UserSession, WebhookEvent
from storefront.reports import readiness
from storefront.seed import seed_demo
from storefront.web.admin import readiness as page_checks
from tests.conftest import BASE_ENV, make_config
from tests.web.admin_support import login_admin

CONFIGURED = {
    "TOSS_ENV": "live",
    "TOSS_CLIENT_KEY": "live_ck_" + "a" * 24,
    "TOSS_SECRET_KEY": "live_sk_" + "b" * 24,
    "SITE_URL": "https://shop.example.kr",
    "SMTP_URL": "smtp://mailer:secret@127.0.0.1:2525",
}


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{s.getsockname()[1]}/0"


def checks_on(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-check="([a-z_]+)" data-ok="(yes|no)"', page))


# -- the whole page --------------------------------------------------------------------------------


@pytest.fixture
def fresh_app(tmp_path: Path, clock):
    """What `make run` starts with: .env.example as it stands plus the generated secrets, and the demo seed."""
    env = {k: v for k, v in dotenv_values(ROOT / ".env.example").items() if v is not None}
    env.update(SECRET_KEY="s" * 40, ENCRYPTION_KEY="ab" * 32, DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}")
    config = load_config(env, password_hash_cheap=True, redis_url=None)  # rate limits in memory for the test
    app = create_app(config, clock=clock)
    # `make run` starts its own Redis, timer and worker; here the Redis is gone, as after a crash
    app.config["STOREFRONT"] = dataclasses.replace(config, redis_url=closed_port_url())
    with app.app_context():
        db.create_all()
        seed_demo(
            db.session,
            now=clock.now(),
            cheap_hash=True,
            admin_email="owner@shop.example",
            reviewer_email=app.config["STOREFRONT"].reviewer_email,
        )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_fresh_make_run_is_red_and_says_what_to_fix(fresh_app: Flask, clock):
    client = fresh_app.test_client()
    from tests.conftest import Auth

    with fresh_app.app_context():
        login_admin(Auth(client), db.session, clock.now())
        page = client.get("/admin/readiness").get_data(as_text=True)

    assert 'data-ready="no"' in page
    found = checks_on(page)
    assert {key for key, ok in found.items() if ok == "no"} == {
        "business_values",
        "site_https",
        "toss_keys",
        "smtp",
        "webhook",
        "timer",
        "workers",
    }
    assert {key for key, ok in found.items() if ok == "yes"} == {
        "landline",
        "mail_order_number",
        "footer",
        "policies",
        "product_ready",
        "no_test_data",
        "reviewer_account",
        "reviewer_checkout",
    }
    assert "BUSINESS_NAME" in page and "TOSS_ENV=sandbox" in page and "http://127.0.0.1:5000/webhooks/toss" in page
    assert page.count("해결 방법:") == 7


@pytest.fixture
def configured(tmp_path, redis_url, clock):
    config = make_config(tmp_path, REDIS_URL=redis_url, **CONFIGURED)
    app = create_app(config, clock=clock)
    with app.app_context():
        db.create_all()
        seed_demo(
            db.session,
            now=clock.now(),
            cheap_hash=True,
            admin_email="owner@shop.example",
            reviewer_email=config.reviewer_email,
        )
        db.session.add(
            WebhookEvent(
                transmission_id="t-1",
                event_type="PAYMENT_STATUS_CHANGED",
                payload="{}",
                status="processed",
                received_at=clock.now() - timedelta(days=2),
            )
        )
        db.session.commit()
    connection = Redis.from_url(redis_url)
    scheduler = CronScheduler(connection=connection, name="cron-on-web-1")
    scheduler.load_config_from_file("storefront.cron")
    scheduler.register_birth()
    worker = Worker(
        [Queue(name, connection=connection) for name in jobs.QUEUES], connection=connection, name="worker-on-web-1"
    )
    worker.register_birth()
    yield app
    worker.register_death()
    connection.close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_configured_app_is_green_and_prints_on_one_page(configured: Flask, clock):
    from tests.conftest import Auth

    client = configured.test_client()
    with configured.app_context():
        login_admin(Auth(client), db.session, clock.now())
        page = client.get("/admin/readiness").get_data(as_text=True)
        printed = client.get("/admin/readiness/print").get_data(as_text=True)

    found = checks_on(page)
    assert len(found) == 15 and set(found.values()) == {"yes"}, {k: v for k, v in found.items() if v == "no"}
    assert 'data-ready="yes"' in page and "해결 방법:" not in page
    assert "https://shop.example.kr/webhooks/toss" in page and "타이머 cron-on-web-1" in page
    assert "worker-on-web-1" in page
    assert "주식회사 테스트상점 결제 연동 준비 상태 점검표" in printed and "관리자 메뉴" not in printed
    assert checks_on(printed) == found and "심사 10/10, 라이브 전환 5/5" in printed
    assert not re.search(r"<script(?![^>]*\bsrc=)", printed) and "style=" not in page + printed


def test_guests_and_shoppers_cannot_see_it(client, auth):
    for path in ("/admin/readiness", "/admin/readiness/print"):
        assert client.get(path).status_code == 302
    auth.signup()
    for path in ("/admin/readiness", "/admin/readiness/print"):
        assert client.get(path).status_code == 403


# -- each check, red then green --------------------------------------------------------------------


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path, PRODUCT_IMAGE_DIR=str(tmp_path / "images"))


def demo_config(tmp_path):
    env = {k: v for k, v in dotenv_values(ROOT / ".env.example").items() if v}
    return load_config(
        {
            **BASE_ENV,
            **{k: v for k, v in env.items() if k.startswith("BUSINESS_")},
            "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        }
    )


def test_business_values_left_at_the_demo_are_named(tmp_path, config):
    demo = readiness.demo_values()
    red = readiness.business_values(demo_config(tmp_path), demo)
    assert not red.ok and "BUSINESS_NAME" in red.detail and "BUSINESS_REGISTRATION_NUMBER" in red.detail
    partly = dataclasses.replace(config, business=dataclasses.replace(config.business, phone=demo["BUSINESS_PHONE"]))
    assert readiness.business_values(partly, demo).detail.endswith("BUSINESS_PHONE")
    assert readiness.business_values(config, demo).ok


@pytest.mark.parametrize(
    "phone,ok",
    [
        ("02-555-0100", True),
        ("031-123-4567", True),
        ("070-1234-5678", True),
        ("1588-1234", True),
        ("5550100", False),
        ("+82-2-555-0100", False),
        ("02-555-01", False),
    ],
)
def test_the_phone_must_look_like_a_landline(config, phone, ok):
    changed = dataclasses.replace(config, business=dataclasses.replace(config.business, phone=phone))
    assert readiness.landline(changed).ok is ok


@pytest.mark.parametrize(
    "number,ok",
    [
        ("제2026-서울마포-0042호", True),
        ("제 2025-부산해운대-01234 호", True),
        ("2026-서울마포-0042", False),
        ("제2026-Seoul-0042호", False),
        ("준비 중", False),
    ],
)
def test_the_mail_order_number_has_its_shape(config, number, ok):
    changed = dataclasses.replace(config, business=dataclasses.replace(config.business, mail_order_number=number))
    assert readiness.mail_order_number(changed).ok is ok


def _mini_site(pages: dict[str, str]) -> Flask:
    site = Flask("mini")
    for path, html in pages.items():
        site.add_url_rule(path, path, lambda html=html: html)
    return site


def test_the_crawl_finds_a_page_without_the_footer(config):
    footer = "".join(f'<dd data-field="{f}">{getattr(config.business, f)}</dd>' for f in page_checks.FOOTER_FIELDS)
    site = _mini_site(
        {
            "/": f'<a href="/about">about</a><a href="/admin/x">admin</a>{footer}',
            "/about": '<a href="/deep">deep</a>' + footer,
            "/deep": "<p>no footer here</p>",
        }
    )

    red = page_checks._footer_everywhere(site.test_client(), config)

    assert not red.ok and "/deep" in red.detail and "/admin" not in red.detail
    fixed = _mini_site({"/": f'<a href="/about">about</a>{footer}', "/about": footer})
    assert page_checks._footer_everywhere(fixed.test_client(), config).ok


def test_policy_pages_need_their_version_and_effective_date(client):
    assert page_checks._policy_pages(client).ok
    site = _mini_site(
        {
            "/terms": "<p>약관</p>",
            "/privacy": "<p>시행일 2026년 11월 23일 · 버전 <span data-version>"
            + page_checks.PRIVACY_VERSION
            + "</span></p>",
        }
    )
    red = page_checks._policy_pages(site.test_client())
    assert (
        not red.ok
        and "이용약관에 시행일·버전 표시 없음" in red.detail
        and "환불 규정(/refund-policy) 응답 404" in red.detail
    )
    assert "개인정보처리방침" not in red.detail


def test_a_product_needs_an_image_a_price_and_its_provision(db_session, config, app):
    static = Path(app.static_folder)
    assert not readiness.product_ready(db_session, config, static).ok  # nothing on sale
    seed_demo(db_session, now=app.extensions["storefront"].clock.now(), cheap_hash=True)
    assert readiness.product_ready(db_session, config, static).ok
    for product in db_session.scalars(select(Product)):
        product.image = "img/missing.png"
    db_session.commit()
    red = readiness.product_ready(db_session, config, static)
    assert not red.ok and "이미지 없음" in red.detail
    for product in db_session.scalars(select(Product)):
        product.image, product.provision = "media/" + "a" * 64 + ".png", ""
    db_session.commit()
    assert "이미지, 제공 방법·기간 없음" in readiness.product_ready(db_session, config, static).detail


def test_test_looking_products_and_free_plans_are_flagged(db_session, app):
    seed_demo(db_session, now=app.extensions["storefront"].clock.now(), cheap_hash=True)
    assert readiness.no_test_data(db_session).ok
    product = db_session.scalars(select(Product).where(Product.active.is_(True))).first()
    product.name = "TEST 상품"
    plan = db_session.scalars(select(Plan).where(Plan.active.is_(True), Plan.product_id != product.id)).first()
    plan.amount_won = 0
    db_session.commit()
    red = readiness.no_test_data(db_session)
    assert not red.ok and "상품 ‘TEST 상품’" in red.detail and "(0원)" in red.detail
    product.active = False
    plan.active = False
    db_session.commit()
    assert readiness.no_test_data(db_session).ok  # what is not on sale does not count


def test_the_reviewer_account_must_exist_not_be_an_admin_and_sign_in(db_session, config, app):
    assert "계정이 없습니다" in readiness.reviewer_account(db_session, config).detail
    seed_demo(
        db_session, now=app.extensions["storefront"].clock.now(), cheap_hash=True, reviewer_email=config.reviewer_email
    )
    assert readiness.reviewer_account(db_session, config).ok
    user = db_session.scalar(select(User).where(User.email == config.reviewer_email))
    user.is_admin = True
    db_session.commit()
    assert "관리자 계정입니다" in readiness.reviewer_account(db_session, config).detail
    user.is_admin, user.password_hash = False, "!deleted:abc"
    db_session.commit()
    assert not readiness.reviewer_account(db_session, config).ok


def test_the_reviewer_reaches_the_order_page_that_opens_the_card_window(app, db_session, config, clock):
    seed_demo(
        db_session, now=app.extensions["storefront"].clock.now(), cheap_hash=True, reviewer_email=config.reviewer_email
    )
    reviewer = readiness.reviewer(db_session, config)
    plan_id = page_checks._first_subscription_plan(db_session)

    def reach(user_id, plan):  # as the page runs it: in a fresh context, away from this test's app context
        return contextvars.Context().run(page_checks._reviewer_reaches_checkout, app, user_id, plan, config)

    with page_checks._signed_in(db_session, reviewer, clock.now()) as cookie_id:
        ok = reach(cookie_id, plan_id)
        assert not reach(cookie_id, None).ok
        assert not reach(f"{reviewer.id}:not-the-token", plan_id).ok  # a cookie without a sign-in opens nothing
    assert ok.ok and f"/subscribe/{plan_id}" in ok.detail
    assert not reach(None, plan_id).ok
    db_session.expire_all()
    assert db_session.scalars(select(UserSession).where(UserSession.user_id == reviewer.id)).all() == []
    assert not reach(cookie_id, plan_id).ok  # the check's sign-in was ended


@pytest.mark.parametrize(
    "site_url,ok",
    [
        ("https://shop.example.kr", True),
        ("http://shop.example.kr", False),
        ("https://127.0.0.1:5000", False),
        ("http://127.0.0.1:5000", False),
    ],
)
def test_site_url_must_be_public_https(config, site_url, ok):
    assert readiness.site_https(dataclasses.replace(config, site_url=site_url)).ok is ok


def test_live_keys_and_smtp(tmp_path, config):
    assert not readiness.toss_keys(config).ok and "sandbox" in readiness.toss_keys(config).detail
    test = make_config(tmp_path, TOSS_ENV="test", TOSS_CLIENT_KEY="test_ck_x", TOSS_SECRET_KEY="test_sk_x")
    assert not readiness.toss_keys(test).ok and "TOSS_ENV=test" in readiness.toss_keys(test).detail
    assert readiness.toss_keys(make_config(tmp_path, **CONFIGURED)).ok
    assert not readiness.smtp(config).ok
    assert readiness.smtp(make_config(tmp_path, SMTP_URL="smtp://u:p@mail.example:587")).ok


def test_the_webhook_must_have_been_received_lately(db_session, config, clock):
    live = dataclasses.replace(config, site_url="https://shop.example.kr")
    red = readiness.webhook(db_session, live, now=clock.now())
    assert not red.ok and "https://shop.example.kr/webhooks/toss" in red.detail and "받은 웹훅이 없습니다" in red.detail
    db_session.add(
        WebhookEvent(
            event_type="PAYMENT_STATUS_CHANGED",
            payload="{}",
            status="processed",
            received_at=clock.now() - timedelta(days=40),
        )
    )
    db_session.commit()
    assert not readiness.webhook(db_session, live, now=clock.now()).ok
    db_session.add(
        WebhookEvent(
            event_type="BILLING_DELETED", payload="{}", status="processed", received_at=clock.now() - timedelta(hours=1)
        )
    )
    db_session.commit()
    assert readiness.webhook(db_session, live, now=clock.now()).ok
    assert not readiness.webhook(db_session, config, now=clock.now()).ok  # received, but on http://127.0.0.1


def test_the_timer_and_the_workers_are_read_from_redis(redis_url):
    assert not readiness.timer(None, "Redis가 없습니다.").ok
    assert not readiness.workers(None, "Redis가 없습니다.", jobs.QUEUES).ok
    with Redis.from_url(redis_url) as connection:
        assert "실행 중인 타이머가 없습니다" in readiness.timer(connection, None).detail
        assert "최근 신호를 보낸 작업자가 없습니다" in readiness.workers(connection, None, jobs.QUEUES).detail
        scheduler = CronScheduler(connection=connection, name="cron-1")
        scheduler.load_config_from_file("storefront.cron")
        scheduler.register_birth()
        timer = readiness.timer(connection, None)
        assert timer.ok and "cron-1" in timer.detail and "아직 없음" in timer.detail
        billing_only = Worker([Queue(jobs.BILLING_QUEUE, connection=connection)], connection=connection, name="w-1")
        billing_only.register_birth()
        red = readiness.workers(connection, None, jobs.QUEUES)
        assert not red.ok and "듣는 작업자가 없는 대기열: webhooks, notices, default" in red.detail
        everything = Worker([Queue(q, connection=connection) for q in jobs.QUEUES], connection=connection, name="w-2")
        everything.register_birth()
        assert readiness.workers(connection, None, jobs.QUEUES).ok
        scheduler.register_death()
        assert not readiness.timer(connection, None).ok
