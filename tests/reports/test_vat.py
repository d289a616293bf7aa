"""The 부가세 summary on the hand-worked shop of test_metrics (VAT = amount ÷ 11 rounded half up, as Toss).

VAT of each approval: 10,000 → 909, 9,900 → 900, 15,000 → 1,364, 12,900 → 1,173, 20,000 → 1,818,
29,000 → 2,636, 120,000 → 10,909. G's 3,000 cancel in March leaves 6,900 (VAT 627): −3,000 and −273.

  Dec 2025  I 120,000 + J 10,000                          = 130,000  VAT 11,818
  Jan 2026  A, D, H 10,000 each + C 20,000                =  50,000  VAT  4,545
  Feb 2026  A, D, H 10,000 + C 20,000 + G, L 9,900         =  69,800  VAT  6,345
  Mar 2026  106,600 approved (VAT 9,691) − 3,000 cancel    = 103,600  VAT  9,418
"""

from __future__ import annotations

from storefront.reports import vat
from tests.reports.ledger import kst
from tests.reports.test_metrics import NOW, build_march


def test_vat_is_toss_rounding_of_one_eleventh():
    assert [vat.vat_of(x) for x in (9_900, 10_000, 12_900, 15_000, 20_000, 29_000, 120_000, 6_900, 5, 6)] == [
        900,
        909,
        1_173,
        1_364,
        1_818,
        2_636,
        10_909,
        627,
        0,
        1,
    ]


def test_months_and_quarters_of_2026(db_session):
    build_march(db_session)

    year = vat.year_summary(db_session, 2026, now=NOW)

    assert [(m.period, m.payments, m.cancels, m.total_won, m.vat_won, m.supplied_won) for m in year.months] == [
        ("2026-01", 4, 0, 50_000, 4_545, 45_455),
        ("2026-02", 6, 0, 69_800, 6_345, 63_455),
        ("2026-03", 8, 1, 103_600, 9_418, 94_182),
        ("2026-04", 0, 0, 0, 0, 0),
    ]
    [q1, q2] = year.quarters
    assert (q1.label, q1.total_won, q1.vat_won, q1.supplied_won) == (
        "2026년 1분기 (1기 예정)",
        223_400,
        20_308,
        203_092,
    )
    assert (q2.label, q2.total_won) == ("2026년 2분기 (1기 확정)", 0)
    assert (year.total.total_won, year.total.vat_won) == (223_400, 20_308)


def test_december_2025_stands_alone(db_session):
    build_march(db_session)

    year = vat.year_summary(db_session, 2025, now=NOW)

    assert [(m.period, m.total_won, m.vat_won) for m in year.months if m.total_won] == [("2025-12", 130_000, 11_818)]
    assert len(year.months) == 12 and year.quarters[3].label == "2025년 4분기 (2기 확정)"


def test_a_cancel_in_a_later_month_reduces_that_month_by_tosss_vat_difference(db_session):
    led = build_march(db_session)
    sub = led.subscription(
        led.user("n@example.com", kst(2026, 3, 25)), led.plans["라이트"], created_at=kst(2026, 3, 25)
    )
    _, attempt = led.paid(sub, kst(2026, 3, 25), kst(2026, 4, 25), 9_900)
    led.refund(attempt, 1_000, kst(2026, 3, 30))  # 9,900 → 8,900: VAT 900 → 809
    led.refund(attempt, 8_900, kst(2026, 4, 2))  # 8,900 → 0: VAT 809 → 0
    db_session.commit()

    year = vat.year_summary(db_session, 2026, now=kst(2026, 4, 30))

    march, april = year.months[2], year.months[3]
    assert (march.total_won, march.vat_won) == (103_600 + 9_900 - 1_000, 9_418 + 900 - 91)
    assert (april.cancels, april.total_won, april.vat_won, april.supplied_won) == (1, -8_900, -809, -8_091)
