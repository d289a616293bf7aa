"""A guest goes from 구독하기 through sign-up to Toss's card window with one click on 주문 확인, and the
success URL shows a progress page that moves on by itself while the sandbox is slow."""

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
            built.append((app, Store(url, catalog.product.slug, catalog.monthly.id, app)))
            db.session.remove()
        return app

    with serve(build):
        yield built[0][1]
    app = built[0][0]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_guest_reaches_the_card_window_with_one_click_on_the_order_page(store, sandbox, page):
    from playwright.sync_api import expect

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: "Content Security Policy" in message.text and errors.append(message.text))
    visited: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and visited.append(frame.url))

    page.goto(f"{store.url}/products/{store.product_slug}")
    page.locator(f'a[href="/subscribe/{store.monthly_id}"]').click()
    page.wait_for_url(re.compile(r".*/signup\?next="))
    sign_up(page, store, "김한번", "one-click@example.com")
    page.wait_for_url(f"{store.url}/subscribe/{store.monthly_id}")

    # a missing consent: the summary at the top gets the focus and links to the box
    page.check("#agree_terms")
    page.get_by_role("button", name="동의하고 카드 등록하기").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    summary.get_by_role("link").click()
    expect(page.locator("#agree_renewal")).to_be_focused()

    # one click on 주문 확인 opens Toss's card window: no /billing/card step in between
    page.check("#agree_terms")
    page.check("#agree_renewal")
    visited.clear()
    page.get_by_role("button", name="동의하고 카드 등록하기").click()
    page.wait_for_url(f"{sandbox.url}/_sandbox/window/billing*")
    assert not any("/billing/card" in url for url in visited), visited

    # Toss holding our calls (as a slow Toss does): the success URL answers at once with the progress
    # page, whose form is already on its way; when Toss answers, the page moves on by itself
    page.fill("input[name=cardNumber]", "4330 1234 1234 1234")
    page.fill("input[name=expiry]", "12/35")
    page.fill("input[name=birth]", "900101")
    # (what the progress page says is checked in tests/pages/test_checkout_flow.py: Chromium drops its
    # body once the page's own form navigates, so it cannot be read reliably here)
    with sandbox.hold_requests() as gate:
        page.get_by_role("button", name="카드 등록", exact=True).click()
        page.wait_for_url(re.compile(r".*/billing/success\?.*"), wait_until="commit")
        assert gate.entered.wait(30), "the progress page did not send its form by itself"
    page.wait_for_url(f"{store.url}/billing/result/*")
    expect(page.get_by_role("heading", name="결제가 완료되었습니다")).to_be_visible()

    # a reload shows the same result; the ledger holds one payment
    page.reload()
    expect(page.get_by_role("heading", name="결제가 완료되었습니다")).to_be_visible()
    assert [(entry["amount"], entry["status"]) for entry in sandbox.ledger()] == [(9900, "DONE")]
    assert errors == []
