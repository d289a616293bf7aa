"""A shopper buys the one-time product in real headless Chromium: sign up, agree, pay in the
sandbox's card window (opened by the SDK stub from static/js/payment.js), see the order.
Signing up includes opening the emailed 가입 확인 link (read from the store's outbox)."""

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
from storefront.seed import seed_demo
from tests.browser import serve
from tests.conftest import make_config
from tests.e2e.signup import sign_up

pytestmark = pytest.mark.e2e

PRODUCT = "/products/presentation-pack"  # the demo catalog's one-time product (29,000원)


@dataclass
class Store:
    url: str
    app: Flask


@pytest.fixture
def store(tmp_path: Path, sandbox, clock) -> Iterator[Store]:
    """The storefront on a free port (werkzeug, threaded), talking to the sandbox fixture."""
    built: list[Flask] = []

    def build(url: str) -> Flask:
        config = make_config(
            tmp_path, TOSS_API_BASE=sandbox.url, TOSS_SDK_URL=f"{sandbox.url}/v2/standard", SITE_URL=url
        )
        app = create_app(config, clock=clock)
        with app.app_context():
            db.create_all()
            seed_demo(db.session, now=clock.now(), cheap_hash=True)
        built.append(app)
        return app

    with serve(build) as url:
        yield Store(url, built[0])
    with built[0].app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_new_shopper_buys_the_one_time_product_through_the_card_window(store, sandbox, page):
    from playwright.sync_api import expect

    csp_errors: list[str] = []
    page.on(
        "console",
        lambda message: csp_errors.append(message.text) if "Content Security Policy" in message.text else None,
    )

    page.goto(store.url + PRODUCT)
    page.get_by_role("link", name="구매하기").click()
    page.wait_for_url(re.compile(r".*/signup\?next=%2Fbuy%2F\d+$|.*/signup\?next=/buy/\d+$"))

    sign_up(page, store, "김구매", "e2e-buyer@example.com")

    expect(page.get_by_role("heading", name="주문 확인")).to_be_visible()
    expect(page.get_by_text("29,000원").first).to_be_visible()
    consent = page.get_by_label(re.compile("이용약관과 구매조건에 동의합니다"))
    expect(consent).not_to_be_checked()
    consent.check()
    page.get_by_role("button", name="동의하고 주문하기").click()

    # one click: the order is created and Toss's payment window opens (no pay page in between)
    page.wait_for_url(f"{sandbox.url}/_sandbox/window/payment*")
    order_id = re.search(r"[?&]orderId=([^&]+)", page.url).group(1)
    expect(page.get_by_text("샌드박스").first).to_be_visible()
    page.fill("input[name=cardNumber]", "4330 1234 1234 1234")
    page.fill("input[name=expiry]", "12/35")
    page.fill("input[name=birth]", "900101")
    page.get_by_role("button", name="결제하기").click()

    page.wait_for_url(f"{store.url}/payments/success*")
    expect(page.get_by_role("heading", name="주문이 완료되었습니다")).to_be_visible()
    expect(page.locator("[data-fact=order-id]")).to_have_text(order_id)
    receipt = page.get_by_role("link", name="카드 매출전표(영수증) 보기")
    href = receipt.get_attribute("href")
    assert href.startswith(f"{sandbox.url}/_sandbox/receipts/")
    assert requests.get(href, timeout=10).status_code == 200

    ledger = sandbox.ledger()
    assert [(p["orderId"], p["amount"], p["status"]) for p in ledger] == [(order_id, 29_000, "DONE")]
    page.reload()  # a reload of the success URL shows the same order and pays nothing more
    expect(page.get_by_role("heading", name="주문이 완료되었습니다")).to_be_visible()
    assert len(sandbox.ledger()) == 1
    assert csp_errors == []


def test_closing_the_card_window_comes_back_to_a_plain_explanation(store, sandbox, page):
    from playwright.sync_api import expect

    page.goto(store.url + "/signup")
    sign_up(page, store, "박취소", "e2e-cancel@example.com")
    page.goto(store.url + PRODUCT)
    page.get_by_role("link", name="구매하기").click()
    page.get_by_label(re.compile("이용약관과 구매조건에 동의합니다")).check()
    page.get_by_role("button", name="동의하고 주문하기").click()
    page.wait_for_url(f"{sandbox.url}/_sandbox/window/payment*")

    page.get_by_role("button", name="취소").click()

    page.wait_for_url(f"{store.url}/payments/fail*")
    expect(page.get_by_text("결제를 취소하셨습니다. 결제된 금액은 없습니다.")).to_be_visible()
    page.get_by_role("link", name="다시 결제하기").click()
    expect(page.get_by_role("heading", name="결제하기")).to_be_visible()
    assert sandbox.ledger() == []
