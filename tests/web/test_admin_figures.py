"""The dashboard's business figures and twelve-month charts, on the hand-worked March of tests/reports."""

from __future__ import annotations

import re

from tests.reports.ledger import kst
from tests.reports.test_metrics import NOW, build_march
from tests.web.admin_support import login_admin


def _figure(page: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">(.*?)</dd>', page, re.S)
    assert match, name
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_the_dashboard_shows_march_as_worked_out_by_hand(client, auth, db_session, clock):
    build_march(db_session)
    clock.set(NOW)
    login_admin(auth, db_session, clock.now())

    page = client.get("/admin/?month=2026-03").get_data(as_text=True)

    assert "사업 지표 · 2026년 3월" in page and "(오늘까지)" not in page
    expected = {
        "mrr": "87,600원",
        "arr": "1,051,200원",
        "paying": "8",
        "new": "2",
        "reactivated": "1",
        "churned": "1",
        "logo-churn": "14.3%",
        "revenue-churn": "25.1%",
        "trial-conversion": "50.0% (1/2)",
        "recovered": "1건 · 10,000원",
        "recovery": "50.0% (1/2)",
        "gross": "106,600원",
        "refunds": "3,000원 (1건)",
        "net": "103,600원",
        "at-risk": "1건 · 9,900원",
    }
    assert {name: _figure(page, name) for name in expected} == expected
    assert re.search(r'<th scope="row">클라우드 노트 · 라이트</th><td>3</td><td>29,700원</td>', page)


def test_each_chart_has_a_title_a_summary_and_its_data_as_a_table(client, auth, db_session, clock):
    build_march(db_session)
    clock.set(NOW)
    login_admin(auth, db_session, clock.now())

    response = client.get("/admin/")
    page = response.get_data(as_text=True)

    assert "사업 지표 · 2026년 4월 (오늘까지)" in page
    charts = re.findall(r'<figure class="chart-figure".*?</figure>', page, re.S)
    assert len(charts) == 3
    revenue, mrr, subscribers = charts
    for chart, title in ((revenue, "월별 순매출"), (mrr, "월말 MRR"), (subscribers, "월말 유료 구독자 수")):
        assert title in chart
        assert re.search(r'<svg [^>]*role="img" aria-labelledby="chart-[a-z]+-title chart-[a-z]+-desc"', chart)
        assert "<title id=" in chart and "<desc id=" in chart and "data-summary" in chart
        assert len(re.findall(r'<th scope="row">', chart)) == 12
    assert '<th scope="row">2026년 3월</th><td>106,600원</td><td>3,000원</td><td>103,600원</td>' in revenue
    assert "가장 많은 달은 2025년 12월(130,000원)입니다." in revenue  # I paid a year in December
    assert len(re.findall(r"<rect ", revenue)) == 12
    assert "2025년 5월 말 0원에서 지금 87,600원입니다 (87,600원 증가)" in mrr
    assert '<th scope="row">2026년 3월</th><td>8명</td>' in subscribers
    # Nothing the strict CSP would block, and nothing fetched from elsewhere.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script: only files under static/js
    assert "style=" not in page and "<style" not in page
    assert "http://" not in "".join(re.findall(r"<svg.*?</svg>", page, re.S)).replace("http://www.w3.org/2000/svg", "")


def test_a_bad_or_future_month_shows_the_current_one(client, auth, db_session, clock):
    clock.set(kst(2026, 4, 1, 12))
    login_admin(auth, db_session, clock.now())

    for query in ("?month=2027-01", "?month=zz", "?month=2026-13", "?month="):
        response = client.get("/admin/" + query)
        assert response.status_code == 200
        assert "사업 지표 · 2026년 4월 (오늘까지)" in response.get_data(as_text=True)


def test_the_dashboard_keeps_the_business_info_in_its_header_and_footer(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())

    page = client.get("/admin/").get_data(as_text=True)

    # The figures must not shadow the templates' `business` (the merchant's identity in the header and footer).
    assert page.count("주식회사 테스트상점") >= 2 and 'data-field="registration_number">220-81-12345<' in page
