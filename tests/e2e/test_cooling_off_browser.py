"""청약철회 in real headless Chromium against the Toss sandbox over HTTP: within 7 days, one cancel, in full.

The store is the demo catalog (`flask seed demo`) on a free port, talking to the sandbox. A shopper
buys the one-time pack through the payment window and withdraws from its order page; another has a
paid 실무 엑셀 subscription and withdraws from 내 구독. Each time a double click and a replay of the
confirmation form go in, and the sandbox's ledger must show exactly one cancel, for the amount paid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from storefront import create_app
from storefront.extensions import db
from storefront.models import Plan, Product
from storefront.seed import seed_demo
from tests.browser import serve
from tests.conftest import make_config
from tests.e2e.signup import sign_up
from tests.web.checkout_support import Shopper

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse 1"


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
            seed_demo(db.session, now=clock.now(), cheap_hash=True)
        built.append(app)
        return app

    with serve(build) as url:
        yield Store(url, built[0])
    with built[0].app_context():
        db.session.remove()
        db.engine.dispose()


def double_click_then_replay(page, store_url: str, button_name: str) -> int:
    """What an impatient shopper does: a double click on the confirmation, then the same form once more.

    Returns how many POSTs of the form reached the store (the replay, sent with the page's cookies, included).
    """
    form = page.locator("form.actions")
    action, token = form.get_attribute("action"), form.locator("input[name=csrf_token]").input_value()
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.get_by_role("button", name=re.compile(button_name)).dblclick()
    page.wait_for_load_state("networkidle")
    replay = page.request.post(store_url + action, form={"csrf_token": token}, max_redirects=0)
    assert replay.status == 302
    return len(posts) + 1


def test_a_one_time_order_is_withdrawn_from_its_page_and_cancelled_once(store, sandbox, page):
    from playwright.sync_api import expect

    page.goto(store.url + "/signup")
    sign_up(page, store, "김철회", "e2e-withdraw@example.com")
    page.goto(store.url + "/products/presentation-pack")
    expect(page.get_by_text("주문 내역에서 직접 청약철회하고").first).to_be_visible()
    page.get_by_role("link", name="구매하기").click()
    page.get_by_label(re.compile("이용약관과 구매조건에 동의합니다")).check()
    page.get_by_role("button", name="동의하고 주문하기").click()  # one click: Toss's payment window
    page.wait_for_url(f"{sandbox.url}/_sandbox/window/payment*")
    page.fill("input[name=cardNumber]", "4330 1234 1234 1234")
    page.fill("input[name=expiry]", "12/35")
    page.fill("input[name=birth]", "900101")
    page.get_by_role("button", name="결제하기").click()
    page.wait_for_url(f"{store.url}/payments/success*")
    expect(page.get_by_role("heading", name="이용 방법")).to_be_visible()  # how to start, from the catalog

    page.get_by_role("link", name="청약철회하고 전액 환불받기").click()
    expect(page.get_by_role("heading", name="청약철회 (전액 환불)")).to_be_visible()
    expect(page.locator(".refund-amount")).to_have_text("29,000원")
    assert double_click_then_replay(page, store.url, "청약철회하고 29,000원 환불받기") >= 2

    expect(page.get_by_text(re.compile("청약철회가 접수되었습니다|이미 접수된 청약철회입니다"))).to_be_visible()
    page.reload()  # the order page the confirmation led back to
    expect(page.get_by_role("heading", name="결제가 취소(환불)된 주문입니다")).to_be_visible()
    [payment] = sandbox.ledger()
    assert (payment["amount"], payment["balanceAmount"], payment["status"]) == (29_000, 0, "CANCELED")
    assert [c["cancelAmount"] for c in payment["cancels"]] == [29_000]


def test_a_subscription_is_withdrawn_from_my_subscriptions_and_cancelled_once(store, sandbox, page, clock):
    from playwright.sync_api import expect

    with store.app.app_context():  # subscribe the way the card window would, without drawing it
        plan = db.session.scalar(
            select(Plan).join(Product).where(Product.slug == "excel-master", Plan.interval == "month")
        )
        shopper = Shopper(store.app.test_client(), db.session, "e2e-sub@example.com").signup()
        button = shopper.toss_button(shopper.card_page(plan))
        assert shopper.come_back(button, auth_key=sandbox.register_card(button["customer_key"])).status_code == 302
        db.session.remove()
    clock.advance(days=6)

    page.goto(store.url + "/login")
    page.get_by_label("이메일", exact=True).fill("e2e-sub@example.com")
    page.get_by_label("비밀번호", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="로그인").click()
    page.goto(store.url + "/account")
    page.get_by_role("link", name="청약철회 (전액 환불)").click()
    expect(page.locator(".refund-amount")).to_have_text("15,900원")
    assert double_click_then_replay(page, store.url, "청약철회하고 15,900원 환불받기") >= 2

    expect(page.get_by_text(re.compile("청약철회가 접수되었습니다|이미 접수된 청약철회입니다"))).to_be_visible()
    expect(page.locator("[data-status=canceled]")).to_be_visible()
    [payment] = sandbox.ledger()
    assert (payment["amount"], payment["balanceAmount"], payment["status"]) == (15_900, 0, "CANCELED")
    assert [c["cancelAmount"] for c in payment["cancels"]] == [15_900]
