"""Admin 대사: the days and their differences, running a day, the CSV, and the settlement view.

The store is wired to the sandbox (real TossClient); a refund made in Toss's dashboard and an
amount our record has wrong give the pages something to show.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from sqlalchemy import select

from storefront.billing.toss_sync import reconciliation
from storefront.models import Reconciliation, Refund
from tests.billing.reconciliation_support import DAY, store, toss  # noqa: F401  (fixtures)
from tests.conftest import csrf_token
from tests.web.admin_support import login_admin


def _day_with_differences(store):
    """A dashboard refund (recorded) and an amount our record has wrong (flagged)."""
    refunded = store.paid_subscription()
    store.cancel_at_toss(store.attempt(refunded.id).payment_key, 1000)
    wrong = store.paid_subscription(amount_won=5000)
    attempt = store.attempt(wrong.id)
    attempt.amount_won = 4000
    store.session.commit()
    store.sandbox.settings(fee_rate=0.032)
    store.next_morning()
    return refunded, wrong, attempt


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_admins_only(client, auth, store):
    assert client.get("/admin/reconciliation").status_code == 302  # to the login page
    store.shopper()
    auth.login(email="buyer1@example.com", password="correct horse 1")
    assert client.get("/admin/reconciliation").status_code == 403
    token = csrf_token(client, "/account")
    assert client.post("/admin/reconciliation/run", data={"csrf_token": token, "day": "2026-03-10"}).status_code == 403
    assert store.session.scalars(select(Reconciliation)).all() == []


def test_running_a_day_from_the_page_shows_what_was_recorded_and_what_to_look_at(client, auth, store):
    _, wrong, attempt = _day_with_differences(store)
    login_admin(auth, store.session, store.clock.now())
    page = client.get("/admin/reconciliation").get_data(as_text=True)
    assert "아직 대사한 날이 없습니다" in page
    assert 'value="2026-03-10"' in page  # yesterday, proposed

    response = client.post(
        "/admin/reconciliation/run",
        data={"csrf_token": csrf_token(client, "/admin/reconciliation"), "day": "2026-03-10"},
    )

    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/reconciliation/2026-03-10")
    detail = client.get("/admin/reconciliation/2026-03-10").get_data(as_text=True)
    assert "2026-03-10 대사를 마쳤습니다: 토스 거래 3건 중 2건 일치, 토스 기록 반영 1건, 확인 필요 1건." in detail
    assert re.search(r'data-figure="flagged">1<', detail) and re.search(r'data-figure="recorded">1<', detail)
    flagged = re.search(r'<tr data-kind="amount_differs" data-state="flagged">(.*?)</tr>', detail, re.S).group(1)
    assert "결제 금액 다름" in flagged and "5,000원" in flagged and "4,000원" in flagged
    assert f'href="/admin/subscriptions/{wrong.id}"' in flagged and attempt.order_id in flagged
    recorded = re.search(r'<tr data-kind="refund_recorded" data-state="recorded">(.*?)</tr>', detail, re.S).group(1)
    assert "환불 기록함" in recorded and "1,000원" in recorded
    assert detail.index('data-state="flagged"') < detail.index('data-state="recorded"')  # what needs a look first

    listing = client.get("/admin/reconciliation").get_data(as_text=True)
    row = re.search(r'<tr data-day="2026-03-10">(.*?)</tr>', listing, re.S).group(1)
    assert "확인 필요" in _text(row) and 'data-count="flagged">1<' in row and 'data-count="recorded">1<' in row
    assert "2건 · 14,900원" in _text(row)  # Toss approved 9,900 + 5,000

    again = client.post(
        "/admin/reconciliation/run",
        data={"csrf_token": csrf_token(client, "/admin/reconciliation"), "day": "2026-03-10"},
        follow_redirects=True,
    )
    assert "토스 기록 반영 1건, 확인 필요 1건" in again.get_data(as_text=True)
    assert len(store.session.scalars(select(Refund)).all()) == 1


def test_the_settlement_view_sets_the_payout_against_our_revenue(client, auth, store):
    _day_with_differences(store)
    reconciliation.reconcile_day(store.session, DAY, toss=store.toss, clock=store.clock)
    login_admin(auth, store.session, store.clock.now())

    listing = client.get("/admin/reconciliation").get_data(as_text=True)

    table = listing.split('class="list reconciliation-settlements"', 1)[1]
    row = re.search(r'<tr data-day="2026-03-10">(.*?)</tr>', table, re.S).group(1)
    # Toss: 9,900 + 5,000 − 1,000 = 13,900; fees 317 + 160 − 32 = 445; payout 13,455 on the 12th.
    assert re.search(r'data-figure="settled">13,900원<', row) and re.search(r'data-figure="fee">445원<', row)
    assert re.search(r'data-figure="payout">13,455원<', row) and "2026-03-12" in row
    # Ours: 9,900 + 4,000 (our wrong record) − 1,000 = 12,900: the gap shows.
    assert re.search(r'data-figure="revenue">12,900원<', row) and "1,000원" in _text(row.split('data-figure="gap"')[1])


def test_the_days_differences_download_as_csv(client, auth, store):
    _, _, attempt = _day_with_differences(store)
    reconciliation.reconcile_day(store.session, DAY, toss=store.toss, clock=store.clock)
    login_admin(auth, store.session, store.clock.now())

    response = client.get("/admin/reconciliation/2026-03-10/items.csv")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="reconciliation-2026-03-10.csv"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads the Korean right
    header, *rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert header[:4] == ["날짜", "구분", "처리", "토스 거래키/주문번호"]
    assert [(r[1], r[2], r[4], r[5], r[6]) for r in rows] == [
        ("결제 금액 다름", "확인 필요", attempt.order_id, "5000", "4000"),
        ("환불 기록함", "반영함", rows[1][4], "1000", "1000"),
    ]


def test_bad_days_are_refused_with_a_message_and_change_nothing(client, auth, store):
    store.next_morning()
    login_admin(auth, store.session, store.clock.now())
    token = csrf_token(client, "/admin/reconciliation")
    future = client.post(
        "/admin/reconciliation/run", data={"csrf_token": token, "day": "2026-03-12"}, follow_redirects=True
    )
    assert "아직 오지 않은 날" in future.get_data(as_text=True)
    garbage = client.post("/admin/reconciliation/run", data={"csrf_token": token, "day": "어제"}, follow_redirects=True)
    assert garbage.status_code == 200 and "날짜" in garbage.get_data(as_text=True)
    no_token = client.post("/admin/reconciliation/run", data={"day": "2026-03-10"})
    assert no_token.status_code == 400
    assert store.session.scalars(select(Reconciliation)).all() == []
    for path in (
        "/admin/reconciliation/2026-02-30",
        "/admin/reconciliation/2026-03-01",
        "/admin/reconciliation/x/items.csv",
    ):
        assert client.get(path).status_code == 404


def test_a_day_toss_could_not_be_read_says_so(client, auth, store, sandbox):
    store.next_morning()
    login_admin(auth, store.session, store.clock.now())

    class Down:
        def iter_transactions(self, *args, **kwargs):
            from storefront.toss.errors import Category, TossError

            raise TossError("FAILED_INTERNAL_SYSTEM_PROCESSING", "down", 500, Category.TRANSIENT)

    reconciliation.reconcile_day(store.session, date(2026, 3, 10), toss=Down(), clock=store.clock)
    page = client.get("/admin/reconciliation/2026-03-10").get_data(as_text=True)
    assert "조회 실패" in page and "FAILED_INTERNAL_SYSTEM_PROCESSING" in page and 'role="alert"' in page


def test_the_admin_menu_links_to_the_page(client, auth, store):
    login_admin(auth, store.session, store.clock.now())
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert '<a href="/admin/reconciliation">대사</a>' in dashboard
