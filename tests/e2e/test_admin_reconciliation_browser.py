"""The admin's 대사 page in real headless Chromium: run yesterday from the form, read the result,
on a phone-sized screen without sideways scrolling and without CSP complaints."""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Iterator

import pytest
from flask import Flask

from storefront import create_app
from storefront.accounts import NewUser, create_user
from storefront.extensions import db
from tests.billing.reconciliation_support import Store
from tests.browser import serve
from tests.conftest import make_config
from tests.sandbox.calls import post

pytestmark = pytest.mark.e2e

ADMIN = ("admin@example.com", "admin password 1")
# Set to a folder to keep screenshots of the pages (375 px and 1280 px wide) for a look by eye.
SHOTS = os.environ.get("RECONCILIATION_SCREENSHOTS")


@pytest.fixture
def site(tmp_path: Path, sandbox, clock) -> Iterator[tuple[str, Flask]]:
    built: list[Flask] = []

    def build(url: str) -> Flask:
        config = make_config(
            tmp_path, TOSS_API_BASE=sandbox.url, TOSS_SDK_URL=f"{sandbox.url}/v2/standard", SITE_URL=url
        )
        app = create_app(config, clock=clock)
        with app.app_context():
            db.create_all()
        built.append(app)
        return app

    with serve(build) as url:
        yield url, built[0]
    with built[0].app_context():
        db.session.remove()
        db.engine.dispose()


def _yesterday_with_a_dashboard_refund(app: Flask, sandbox, clock) -> None:
    with app.app_context():
        services = app.extensions["storefront"]
        store = Store(app, db.session, services.toss, sandbox, clock, app.config["STOREFRONT"])
        create_user(
            db.session,
            NewUser(email=ADMIN[0], password=ADMIN[1], name="관리자", is_admin=True),
            now=clock.now(),
            cheap_hash=True,
        )
        db.session.commit()
        sub = store.paid_subscription()
        response = post(
            sandbox,
            f"/v1/payments/{store.attempt(sub.id).payment_key}/cancel",
            {"cancelReason": "고객 요청 (대시보드)", "cancelAmount": 2900},
        )
        assert response.status_code == 200
        store.next_morning()
        db.session.remove()


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_admin_reconciles_yesterday_from_the_page(site, sandbox, clock, page):
    from playwright.sync_api import expect

    url, app = site
    _yesterday_with_a_dashboard_refund(app, sandbox, clock)
    csp: list[str] = []
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(url + "/login")
    page.get_by_label("이메일").fill(ADMIN[0])
    page.get_by_label("비밀번호").fill(ADMIN[1])
    page.get_by_role("button", name="로그인").click()
    page.goto(url + "/admin/reconciliation")

    expect(page.get_by_label("대사할 날짜 (한국 시간)")).to_have_value("2026-03-10")
    assert _no_sideways_scroll(page)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/reconciliation-empty-375.png", full_page=True)
    page.get_by_role("button", name="지금 대사하기").click()

    page.wait_for_url(url + "/admin/reconciliation/2026-03-10")
    expect(page.get_by_role("status").first).to_contain_text("토스 기록 반영 1건, 확인 필요 0건")
    expect(page.get_by_role("heading", level=1)).to_contain_text("토스 기록 반영")
    expect(page.locator('tr[data-kind="refund_recorded"]')).to_contain_text("2,900원")
    assert _no_sideways_scroll(page)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/reconciliation-day-375.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=f"{SHOTS}/reconciliation-day-1280.png", full_page=True)
        page.goto(url + "/admin/reconciliation")
        page.screenshot(path=f"{SHOTS}/reconciliation-list-1280.png", full_page=True)
        page.set_viewport_size({"width": 375, "height": 800})
        page.screenshot(path=f"{SHOTS}/reconciliation-list-375.png", full_page=True)
    assert csp == []
