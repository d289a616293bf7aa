"""The whole shopper journey in real headless Chromium, against the Toss sandbox over HTTP.

Sign up (opening the emailed link), open a product, subscribe (consents, Toss's card window), land on the result page,
then in 내 구독: cancel, resume, change card (through the window again) and change plan.
The sandbox's ledger must then hold exactly one payment: the first period, at the price shown.
The store is a real werkzeug server on a free port, configured like production except that
TOSS_API_BASE / TOSS_SDK_URL point at the sandbox; the browser runs the sandbox's SDK stub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import pytest

from flask import Flask

from storefront import create_app
from storefront.extensions import db
from tests.browser import serve
from tests.conftest import make_config
from tests.e2e.signup import sign_up
from tests.web.checkout_support import make_catalog

pytestmark = pytest.mark.e2e


@dataclass
class Store:
    url: str
    product_slug: str
    monthly_id: int
    yearly_id: int
    app: Flask


@pytest.fixture
def store(sandbox, clock, tmp_path: Path) -> Iterator[Store]:
    built: list = []

    def build(url: str):
        config = make_config(
            tmp_path, TOSS_API_BASE=sandbox.url, TOSS_SDK_URL=f"{sandbox.url}/v2/standard", SITE_URL=url
        )
        app = create_app(config, clock=clock)
        with app.app_context():
            db.create_all()
            catalog = make_catalog(db.session)
            built.append((app, Store(url, catalog.product.slug, catalog.monthly.id, catalog.yearly.id, app)))
            db.session.remove()
        return app

    with serve(build):
        yield built[0][1]
    app = built[0][0]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def fill_card_window(page, sandbox_url: str, card_number: str) -> None:
    page.wait_for_url(f"{sandbox_url}/_sandbox/window/billing*")
    page.fill("input[name=cardNumber]", card_number)
    page.fill("input[name=expiry]", "12/35")
    page.fill("input[name=birth]", "900101")
    page.get_by_role("button", name="카드 등록", exact=True).click()


def test_a_shopper_subscribes_and_manages_it_and_is_charged_once(store, sandbox, page):
    from playwright.sync_api import expect

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: "Content Security Policy" in message.text and errors.append(message.text))

    # sign up
    page.goto(f"{store.url}/signup")
    sign_up(page, store, "김구매", "browser@example.com")
    page.wait_for_url(f"{store.url}/")

    # a product, its monthly plan, the order page with its consents
    page.goto(f"{store.url}/products/{store.product_slug}")
    page.locator(f'a[href="/subscribe/{store.monthly_id}"]').click()
    page.wait_for_url(f"{store.url}/subscribe/{store.monthly_id}")
    expect(page.locator(".first-charge")).to_contain_text("9,900원")
    page.check("#agree_terms")
    page.check("#agree_renewal")
    page.get_by_role("button", name="동의하고 카드 등록하기").click()

    # one click: the order page records the consents and opens Toss's window through the SDK;
    # the sandbox card window takes the card, the progress page settles it and moves on
    fill_card_window(page, sandbox.url, "4330 1234 1234 1234")
    page.wait_for_url(f"{store.url}/billing/result/*")
    expect(page.get_by_role("heading", name="결제가 완료되었습니다")).to_be_visible()
    expect(page.locator(".card-label")).to_contain_text("4330")
    expect(page.locator("dd.amount")).to_contain_text("9,900원")
    expect(page.locator("a.receipt")).to_have_attribute(
        "href", re.compile(rf"^{re.escape(sandbox.url)}/_sandbox/receipts/")
    )

    # 내 구독
    page.get_by_role("link", name="내 구독").first.click()
    page.wait_for_url(f"{store.url}/account")
    status = page.locator(".badge.status")
    expect(status).to_have_text("이용 중")

    # cancel (one confirmation), then resume
    page.get_by_role("link", name="해지하기").click()
    page.wait_for_url(f"{store.url}/account/subscriptions/*/cancel")
    page.get_by_role("button", name="해지하기").click()
    page.wait_for_url(f"{store.url}/account")
    expect(status).to_have_text("해지 예정")
    page.get_by_role("button", name="해지 취소 (구독 계속하기)").click()
    page.wait_for_url(f"{store.url}/account")
    expect(status).to_have_text("이용 중")

    # change card, through the window again
    page.get_by_role("button", name="카드 변경", exact=True).click()
    page.wait_for_url(f"{store.url}/billing/card?intent=*")
    page.get_by_role("button", name="카드 등록하기", exact=True).click()
    fill_card_window(page, sandbox.url, "5570 0000 0000 0001")
    page.wait_for_url(f"{store.url}/account")
    expect(page.locator(".flash")).to_contain_text("결제 카드가 변경되었습니다")
    expect(page.locator(".card-label")).to_contain_text("신한")

    # change plan: yearly from the next billing date
    page.get_by_role("link", name="요금제 변경").click()
    page.wait_for_url(f"{store.url}/account/subscriptions/*/plan")
    page.check(f'input[name=plan_id][value="{store.yearly_id}"]')
    page.check("#agree")
    page.get_by_role("button", name="요금제 변경하기").click()
    page.wait_for_url(f"{store.url}/account")
    expect(page.locator(".pending-plan")).to_contain_text("연간 베이직")

    ledger = sandbox.ledger()
    assert [(entry["amount"], entry["status"]) for entry in ledger] == [(9900, "DONE")]
    assert errors == []
