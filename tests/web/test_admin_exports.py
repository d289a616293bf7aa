"""CSV exports read back with the `csv` module: BOM, Korean headers, KST times, whole won, the list's filters,
totals equal to the database's; and a 100,000-row file streamed without holding it in memory."""

from __future__ import annotations

import csv
import io
import tracemalloc

import pytest
from sqlalchemy import func, insert, select

from storefront.models import Attempt, AuditLog, Refund, Subscription, User
from storefront.reports.exports import AUDIT_HEADER, PAYMENT_HEADER
from tests.reports.ledger import kst
from tests.reports.test_metrics import NOW, build_march
from tests.web.admin_support import login_admin

BOM = b"\xef\xbb\xbf"


@pytest.fixture
def march(db_session, clock):
    led = build_march(db_session)
    clock.set(NOW)
    return led


@pytest.fixture
def admin(auth, db_session, clock, march):
    return login_admin(auth, db_session, clock.now())


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    body = response.get_data()
    assert body.startswith(BOM), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def _db_sum(session, stmt) -> int:
    return int(session.scalar(stmt) or 0)


def test_payments_csv_has_charges_orders_and_refunds_and_adds_up_to_the_database(client, db_session, admin):
    header, *rows = read_csv(client.get("/admin/payments.csv"))

    assert tuple(header) == PAYMENT_HEADER
    paid = _db_sum(db_session, select(func.sum(Attempt.amount_won)).where(Attempt.status == "done"))
    refunded = _db_sum(db_session, select(func.sum(Refund.amount_won)).where(Refund.status == "done"))
    assert sum(int(row[8]) for row in rows) == paid - refunded
    assert len(rows) == db_session.scalar(select(func.count()).where(Attempt.status == "done")) + 1
    times = [row[0] for row in rows]
    assert times == sorted(times)  # one ledger in time order
    [refund] = [row for row in rows if row[1] == "환불"]
    assert (refund[0], refund[4], refund[8], refund[11]) == (
        "2026-03-12 15:00:00",
        "g@example.com",
        "-3000",
        "고객 요청",
    )
    [order] = [row for row in rows if row[1] == "1회 구매"]
    assert (order[0], order[6], order[7], order[8]) == ("2026-03-14 16:00:00", "발표 템플릿", "발표 템플릿", "29000")


def test_payments_csv_for_march_is_the_months_net_revenue(client, admin):
    _, *rows = read_csv(client.get("/admin/payments.csv?from=2026-03-01&to=2026-03-31"))
    assert sum(int(row[8]) for row in rows) == 103_600  # as worked out in tests/reports/test_metrics.py
    assert all(row[0].startswith("2026-03-") for row in rows)

    _, *orders = read_csv(client.get("/admin/payments.csv?from=2026-03-01&to=2026-03-31&kind=order"))
    assert [(row[1], row[8]) for row in orders] == [("1회 구매", "29000")]

    _, *mine = read_csv(client.get("/admin/payments.csv?q=G@EXAMPLE"))
    assert [row[8] for row in mine] == ["9900", "9900", "-3000"]


def test_subscriptions_csv_applies_the_lists_filters(client, db_session, admin):
    header, *rows = read_csv(client.get("/admin/subscriptions.csv"))
    assert header[:9] == [
        "구독번호",
        "회원번호",
        "이메일",
        "이름",
        "상품",
        "플랜",
        "결제 주기",
        "결제 금액 (원)",
        "상태",
    ]
    assert len(rows) == db_session.scalar(select(func.count()).select_from(Subscription))
    assert sum(int(r[7]) for r in rows) == _db_sum(db_session, select(func.sum(Subscription.amount_won)))

    _, *canceled = read_csv(client.get("/admin/subscriptions.csv?status=canceled"))
    assert sorted(r[2] for r in canceled) == ["c@example.com", "f@example.com", "j@example.com"]
    assert {r[8] for r in canceled} == {"해지됨"}
    [c] = [r for r in canceled if r[2] == "c@example.com"]
    assert (c[6], c[15], c[16]) == ("매월", "2026-03-15 10:00:00", "canceled_at_period_end")

    _, *searched = read_csv(client.get("/admin/subscriptions.csv?q=j@"))
    assert len(searched) == 2


def test_customers_and_refunds_csv(client, db_session, admin):
    header, *customers = read_csv(client.get("/admin/customers.csv"))
    assert header == ["회원번호", "이메일", "이름", "휴대전화", "가입 일시", "구독 수", "마케팅 수신 동의"]
    shoppers = db_session.scalar(select(func.count()).select_from(User).where(User.is_admin.is_(False)))
    assert len(customers) == shoppers and "admin@example.com" not in {r[1] for r in customers}
    [j] = [r for r in customers if r[1] == "j@example.com"]
    assert (j[4], j[5], j[6]) == ("2025-12-01 10:00:00", "2", "아니요")

    header, *refunds = read_csv(client.get("/admin/refunds.csv?status=done"))
    assert header[:8] == ["요청 일시", "처리 일시", "환불번호", "주문번호", "구분", "이메일", "금액 (원)", "상태"]
    assert [(r[4], r[5], r[6], r[7], r[10]) for r in refunds] == [
        ("정기결제", "g@example.com", "3000", "환불 완료", "토스페이먼츠")
    ]
    _, *none = read_csv(client.get("/admin/refunds.csv?status=failed"))
    assert none == []


def test_the_vat_csv_matches_the_accounting_page(client, admin):
    page = client.get("/admin/accounting?year=2026").get_data(as_text=True)
    assert "2026년 1분기 (1기 예정)" in page and "203,092원" in page and "20,308원" in page

    header, *rows = read_csv(client.get("/admin/accounting/vat.csv?year=2026"))
    assert header == ["기간", "구분", "결제 건수", "취소 건수", "공급가액 (원)", "부가세 (원)", "합계 (원)"]
    by_label = {row[0]: row for row in rows}
    assert by_label["2026년 3월"][2:] == ["8", "1", "94182", "9418", "103600"]
    assert by_label["2026년 1분기 (1기 예정)"][4:] == ["203092", "20308", "223400"]
    assert by_label["2026년 합계"][6] == "223400"


def test_text_that_a_spreadsheet_would_run_is_neutralised(client, db_session, march, admin):
    attempt = db_session.scalars(select(Attempt).where(Attempt.status == "done")).first()
    march.refund(attempt, 100, kst(2026, 3, 20), reason='=HYPERLINK("http://evil.example","x")')
    db_session.commit()

    _, *rows = read_csv(client.get("/admin/payments.csv?from=2026-03-20&to=2026-03-20"))

    [refund] = [row for row in rows if row[1] == "환불"]
    assert refund[11] == '\'=HYPERLINK("http://evil.example","x")' and refund[8] == "-100"


def test_audit_csv_filters_by_who_what_when_and_customer(client, db_session, march, admin):
    sub = db_session.scalars(select(Subscription).join(User).where(User.email == "g@example.com")).one()
    client.get(f"/admin/subscriptions/{sub.id}")
    client.get("/admin/customers")

    header, *rows = read_csv(client.get("/admin/audit.csv?customer=g@example.com"))
    assert tuple(header) == AUDIT_HEADER
    assert [(r[1], r[3], r[4], r[5], r[9]) for r in rows] == [
        ("관리자", "admin@example.com", "구독 상세 조회", "admin_view_subscription", str(sub.id))
    ]
    assert rows[0][0] == "2026-04-01 12:00:00"

    _, *listed = read_csv(
        client.get("/admin/audit.csv?action=admin_list_customers&actor=admin&who=admin@&from=2026-04-01&to=2026-04-01")
    )
    assert [r[5] for r in listed] == ["admin_list_customers"]
    _, *earlier = read_csv(client.get("/admin/audit.csv?to=2026-03-31"))
    assert earlier == []
    exports = db_session.scalars(select(AuditLog).where(AuditLog.action == "admin_export_audit")).all()
    assert len(exports) == 3 and all(e.actor_id == admin.id and e.ip == "127.0.0.1" for e in exports)


def test_bad_filters_are_refused_with_a_message_and_no_file(client, admin):
    for url, back in (
        ("/admin/payments.csv?from=2026-13-01", "/admin/accounting"),
        ("/admin/payments.csv?from=2026-03-05&to=2026-03-01", "/admin/accounting"),
        ("/admin/subscriptions.csv?status=bogus", "/admin/subscriptions"),
        ("/admin/refunds.csv?status=bogus", "/admin/refunds"),
        ("/admin/audit.csv?actor=root", "/admin/audit"),
    ):
        response = client.get(url)
        assert (response.status_code, response.headers["Location"]) == (302, back), url
        page = client.get(back).get_data(as_text=True)
        assert "내보내지 못했습니다." in page, url


def test_the_audit_page_filters_and_labels_in_korean(client, db_session, march, admin):
    client.get("/admin/customers")
    page = client.get("/admin/audit?action=admin_list_customers").get_data(as_text=True)
    assert "회원 목록 조회" in page and "admin_list_customers" not in page.split("<tbody>")[1]
    assert "조건에 맞는 기록 1건" in page and "총 1건" not in page  # the count once
    assert 'href="/admin/audit.csv?action=admin_list_customers"' in page
    page = client.get("/admin/audit?from=zz").get_data(as_text=True)
    assert "날짜는 2026-03-01 형식으로 입력해 주세요." in page


class TestLargeExport:
    ROWS = 100_000

    def test_a_hundred_thousand_rows_stream_without_sitting_in_memory(self, client, db_session, clock, auth):
        login_admin(auth, db_session, clock.now())
        rows = [
            {
                "at": clock.now(),
                "actor_type": "worker",
                "actor_id": None,
                "action": "open_billing_key",
                "reason": f"renewal charge {n}",
                "ip": "worker",
                "subscription_id": n % 5000,
            }
            for n in range(self.ROWS)
        ]
        db_session.execute(insert(AuditLog), rows)
        db_session.commit()
        del rows

        tracemalloc.start()  # before the request: the test client reads the first chunk itself
        try:
            response = client.get("/admin/audit.csv?actor=worker")
            assert response.is_streamed
            lines = chunks = 0
            head = b""
            for chunk in response.response:
                data = chunk if isinstance(chunk, bytes) else chunk.encode()
                head = head or data[:3]
                lines += data.count(b"\r\n")
                chunks += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            response.close()

        assert head == BOM and lines == self.ROWS + 1
        assert chunks > 100  # sent as it was read, a few hundred rows at a time
        # The whole file is over 6 MB; producing it never held more than a small part of it.
        assert peak < 4_000_000, peak
