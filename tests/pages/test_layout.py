"""Layout details a screenshot showed wrong, checked in Chromium at a phone's and a desktop's width.

- A date ("2026년 3월 10일") never splits across two lines (the payment history, the cancel page).
- On a phone the payment history's stacked cells keep label and value side by side: the period is one value.
- The audit log's 내용 column is readable without scrolling the table sideways on a desktop.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from storefront.extensions import db
from storefront.models import Subscription
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.pages.test_pages import _sign_in, site  # noqa: F401  (the lived-in shop, built once for this module)

pytestmark = pytest.mark.e2e

SPLIT_DATES = (
    "[...document.querySelectorAll('main .date')].filter(e => e.getClientRects().length > 1).map(e => e.textContent)"
)
DATES = "document.querySelectorAll('main .date').length"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing ({CHROMIUM}): run `make test`, which installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def signed_in(browser, site, role: str):  # noqa: F811
    context = browser.new_context(locale="ko-KR", viewport={"width": 375, "height": 812})
    page = context.new_page()
    _sign_in(page, site, role)
    return context, page


def test_dates_stay_on_one_line_and_stacked_cells_keep_one_value(browser, site):  # noqa: F811
    with site.app.app_context():
        active = db.session.scalar(select(Subscription.id).where(Subscription.status == "active"))
    context, page = signed_in(browser, site, "shopper")
    try:
        for path in ("/account/payments", f"/account/subscriptions/{active}/cancel"):
            page.goto(site.url + path)
            for width in (320, 375, 1280):
                page.set_viewport_size({"width": width, "height": 800})
                assert page.evaluate(DATES) > 0
                assert page.evaluate(SPLIT_DATES) == [], (path, width)
        page.goto(site.url + "/account/payments")
        page.set_viewport_size({"width": 375, "height": 800})
        periods = page.locator('td[data-label="이용 기간"]')
        assert periods.count() > 0
        for i in range(periods.count()):
            # the label sits beside the value, on the value's first line
            label_top, value_top = periods.nth(i).evaluate(
                "td => [td.getBoundingClientRect().top, td.firstElementChild.getBoundingClientRect().top]"
            )
            assert abs(label_top - value_top) < 12 and periods.nth(i).evaluate("td => td.children.length") == 1
    finally:
        context.close()


def test_the_audit_details_are_readable_without_scrolling_on_a_desktop(browser, site):  # noqa: F811
    context, page = signed_in(browser, site, "admin")
    try:
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(site.url + "/admin/audit")
        overflow = page.evaluate(
            """() => {
              const box = document.querySelector('main .table-scroll').getBoundingClientRect();
              return [...document.querySelectorAll('main tr[data-audit] td:nth-child(4)')]
                .filter(td => td.getBoundingClientRect().right > box.right + 1).map(td => td.textContent);
            }"""
        )
        assert page.locator("main tr[data-audit]").count() > 3 and overflow == []
    finally:
        context.close()
