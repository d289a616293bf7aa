"""The merchant refunds part of a payment in real headless Chromium, through the confirmation step, and the
sandbox's ledger, the shopper's 내 구독 and the order's status all show it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import pytest
import requests
from flask import Flask

from storefront import create_app
from storefront.extensions import db
from storefront.reports import vat
from storefront.seed import seed_demo
from tests.browser import serve
from tests.conftest import make_config
from tests.e2e.signup import sign_up
from tests.e2e.test_one_time_purchase import PRODUCT

pytestmark = pytest.mark.e2e

OWNER, OWNER_PASSWORD = "owner@shop.example", "owner password 1"


@dataclass
class Store:
    url: str
    app: Flask


@pytest.fixture
def store(tmp_path: Path, sandbox, clock) -> Iterator[Store]:
    built: list[Flask] = []

    def build(url: str) -> Flask:
        config = make_config(
            tmp_path, TOSS_API_BASE=sandbox.url, TOSS_SDK_URL=f"{sandbox.url}/v2/standard", SITE_URL=url
        )
        app = create_app(config, clock=clock)
        with app.app_context():
            db.create_all()
            seed_demo(db.session, now=clock.now(), cheap_hash=True, admin_email=OWNER, admin_password=OWNER_PASSWORD)
        built.append(app)
        return app

    with serve(build) as url:
        yield Store(url, built[0])
    with built[0].app_context():
        db.session.remove()
        db.engine.dispose()


def buy_the_one_time_product(page, store: Store, sandbox) -> str:
    """A shopper signs up and pays 29,000원 in the sandbox's card window; returns the orderId."""
    page.goto(store.url + PRODUCT)
    page.get_by_role("link", name="구매하기").click()
    sign_up(page, store, "김환불", "e2e-refund@example.com")
    page.get_by_label(re.compile("이용약관과 구매조건에 동의합니다")).check()
    page.get_by_role("button", name="동의하고 주문하기").click()  # one click: Toss's payment window opens
    page.wait_for_url(f"{sandbox.url}/_sandbox/window/payment*")
    order_id = re.search(r"[?&]orderId=([^&]+)", page.url).group(1)
    page.fill("input[name=cardNumber]", "4330 1234 1234 1234")
    page.fill("input[name=expiry]", "12/35")
    page.fill("input[name=birth]", "900101")
    page.get_by_role("button", name="결제하기").click()
    page.wait_for_url(f"{store.url}/payments/success*")
    return order_id


def test_the_admin_refunds_part_of_a_payment_and_everyone_sees_it(store, sandbox, page):
    from playwright.sync_api import expect

    csp_errors: list[str] = []
    order_id = buy_the_one_time_product(page, store, sandbox)
    assert [(p["orderId"], p["status"]) for p in sandbox.ledger()] == [(order_id, "DONE")]

    admin = page.context.browser.new_context(locale="ko-KR").new_page()
    admin.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    admin.goto(store.url + "/login")
    admin.get_by_label("이메일", exact=True).fill(OWNER)
    admin.get_by_label("비밀번호", exact=True).fill(OWNER_PASSWORD)
    admin.get_by_role("button", name="로그인").click()
    admin.goto(store.url + "/admin/orders")
    admin.get_by_role("link", name=order_id).click()
    expect(admin.locator("[data-order-state]").first).to_have_text("결제 완료")
    admin.get_by_role("link", name="환불하기").click()

    amount = admin.get_by_label("환불 금액 (원)")
    expect(amount).to_have_value("")  # nothing pre-filled
    expect(admin.locator("[data-figure=refundable]")).to_have_text("29,000원")
    amount.fill("10000")
    admin.get_by_label(re.compile("환불 사유")).fill("파일 일부 불량으로 부분 환불")
    admin.get_by_role("button", name="다음: 환불 내용 확인").click()

    expect(admin.get_by_role("heading", name="환불 내용 확인")).to_be_visible()
    expect(admin.locator("[data-figure=confirm-amount]")).to_have_text("10,000원")
    expect(admin.locator("[data-figure=left-after]")).to_have_text("19,000원")
    assert sandbox.ledger()[0]["status"] == "DONE"  # nothing sent before the confirmation
    admin.get_by_role("button", name="10,000원 환불하기").click()

    expect(admin.get_by_text("10,000원 환불(결제 취소)이 완료되었습니다.")).to_be_visible()
    expect(admin.locator("[data-figure=refundable]")).to_have_text("19,000원")
    [payment] = sandbox.ledger()
    assert payment["status"] == "PARTIAL_CANCELED"
    assert [c["cancelAmount"] for c in payment["cancels"]] == [10_000]
    # The 부가세 summary books what Toss reports after the cancel: 19,000 = 17,273 + 1,727.
    toss_view = requests.get(f"{sandbox.url}/v1/payments/{payment['paymentKey']}", auth=sandbox.auth, timeout=10).json()
    with store.app.app_context():
        march = vat.year_summary(db.session, 2026, now=store.app.extensions["storefront"].clock.now()).months[2]
    assert (
        (march.total_won, march.supplied_won, march.vat_won)
        == (toss_view["balanceAmount"], toss_view["suppliedAmount"], toss_view["vat"])
        == (19_000, 17_273, 1_727)
    )

    admin.goto(f"{store.url}/admin/orders/{order_id}")
    expect(admin.locator("h1 [data-order-state]")).to_have_text("부분 환불")
    expect(admin.locator("[data-figure=order-refunded]")).to_have_text("10,000원")

    page.goto(store.url + "/account")
    expect(page.locator(f'[data-order-status="{order_id}"]')).to_have_text("부분 환불")
    page.goto(f"{store.url}/orders/{order_id}")
    expect(page.locator("[data-fact=refunded]")).to_have_text("10,000원")
    assert csp_errors == []
