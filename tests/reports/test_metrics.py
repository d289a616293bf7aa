"""Business figures against a month worked out by hand (March 2026, KST).

The shop's records (amounts in won, dates KST, renewals at 10:00):

  A  월간 10,000      paying since Jan 10; renews Mar 10                       steady
  B  라이트 9,900      first paid Mar 5                                         new
  C  프로 20,000       paid Feb 15–Mar 15, cancelled at period end: ended Mar 15  churned
  D  월간 10,000 → 프리미엄 15,000 from the Mar 20 renewal                      upgraded
  E  체험 12,900       trial Feb 25–Mar 11, first charge Mar 11 paid            trial converted
  F  체험 12,900       trial Mar 1–Mar 15, cancelled in the trial               trial not converted
  G  라이트 9,900      renews Mar 3; 3,000 refunded on Mar 12                   refunded (partly)
  H  월간 10,000       Mar 8 renewal declined, paid Mar 9                       recovered
  I  연간 120,000      paid Dec 1 2025 for a year                               10,000 a month
  J  월간 ended Jan 1 (had paid); 라이트 9,900 from Mar 20                      reactivated
  K  one-time order 29,000 on Mar 14
  L  라이트 9,900      Mar 18 renewal declined, still past due                 drops out of MRR
  M  a checkout on Mar 22 whose first charge was declined                      never started

MRR on Mar 1 00:00 = A 10,000 + C 20,000 + D 10,000 + G 9,900 + H 10,000 + I 10,000 + L 9,900 = 79,800 (7)
MRR on Apr 1 00:00 = A 10,000 + B 9,900 + D 15,000 + E 12,900 + G 9,900 + H 10,000 + I 10,000 + J 9,900 = 87,600 (8)
Revenue in March = subscriptions 10,000 (A) + 9,900 (B) + 15,000 (D) + 12,900 (E) + 9,900 (G) + 10,000 (H)
                   + 9,900 (J) = 77,600, one-time 29,000: gross 106,600, refunds 3,000, net 103,600.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from storefront.reports import metrics
from storefront.reports.metrics import Ratio
from storefront.reports.months import Month
from tests.reports.ledger import Ledger, kst

MARCH = Month(2026, 3)
NOW = kst(2026, 4, 1, 12)  # the morning after March: the month is complete


def build_march(session) -> Ledger:
    led = Ledger(session)
    monthly = led.plan("월간", 10_000)
    lite = led.plan("라이트", 9_900)
    pro = led.plan("프로", 20_000)
    premium = led.plan("프리미엄", 15_000)
    trial = led.plan("체험", 12_900, trial_days=14)
    yearly = led.plan("연간", 120_000, interval="year")
    once = led.plan("발표 템플릿", 29_000, interval="once")

    a = led.subscription(led.user("a@example.com", kst(2026, 1, 10)), monthly, created_at=kst(2026, 1, 10))
    for start, end in (
        (kst(2026, 1, 10), kst(2026, 2, 10)),
        (kst(2026, 2, 10), kst(2026, 3, 10)),
        (kst(2026, 3, 10), kst(2026, 4, 10)),
    ):
        led.paid(a, start, end, 10_000)

    b = led.subscription(led.user("b@example.com", kst(2026, 3, 5)), lite, created_at=kst(2026, 3, 5))
    led.paid(b, kst(2026, 3, 5), kst(2026, 4, 5), 9_900)

    c = led.subscription(
        led.user("c@example.com", kst(2026, 1, 15)),
        pro,
        created_at=kst(2026, 1, 15),
        status="canceled",
        ended_at=kst(2026, 3, 15),
        ended_reason="canceled_at_period_end",
    )
    led.paid(c, kst(2026, 1, 15), kst(2026, 2, 15), 20_000)
    led.paid(c, kst(2026, 2, 15), kst(2026, 3, 15), 20_000)

    d = led.subscription(
        led.user("d@example.com", kst(2026, 1, 20)), premium, created_at=kst(2026, 1, 20), amount_won=15_000
    )
    led.paid(d, kst(2026, 1, 20), kst(2026, 2, 20), 10_000)
    led.paid(d, kst(2026, 2, 20), kst(2026, 3, 20), 10_000)
    led.paid(d, kst(2026, 3, 20), kst(2026, 4, 20), 15_000)

    e = led.subscription(
        led.user("e@example.com", kst(2026, 2, 25)), trial, created_at=kst(2026, 2, 25), trial_end_at=kst(2026, 3, 11)
    )
    led.paid(e, kst(2026, 3, 11), kst(2026, 4, 11), 12_900)

    led.subscription(
        led.user("f@example.com", kst(2026, 3, 1)),
        trial,
        created_at=kst(2026, 3, 1),
        trial_end_at=kst(2026, 3, 15),
        status="canceled",
        ended_at=kst(2026, 3, 15),
        ended_reason="canceled_at_period_end",
    )

    g = led.subscription(led.user("g@example.com", kst(2026, 2, 3)), lite, created_at=kst(2026, 2, 3))
    led.paid(g, kst(2026, 2, 3), kst(2026, 3, 3), 9_900)
    _, g_march = led.paid(g, kst(2026, 3, 3), kst(2026, 4, 3), 9_900)
    led.refund(g_march, 3_000, kst(2026, 3, 12, 15))

    h = led.subscription(led.user("h@example.com", kst(2026, 1, 8)), monthly, created_at=kst(2026, 1, 8))
    led.paid(h, kst(2026, 1, 8), kst(2026, 2, 8), 10_000)
    led.paid(h, kst(2026, 2, 8), kst(2026, 3, 8), 10_000)
    led.paid(h, kst(2026, 3, 8), kst(2026, 4, 8), 10_000, first_failed_at=kst(2026, 3, 8), paid_at=kst(2026, 3, 9))

    i = led.subscription(led.user("i@example.com", kst(2025, 12, 1)), yearly, created_at=kst(2025, 12, 1))
    led.paid(i, kst(2025, 12, 1), kst(2026, 12, 1), 120_000)

    j_user = led.user("j@example.com", kst(2025, 12, 1))
    j_old = led.subscription(
        j_user,
        monthly,
        created_at=kst(2025, 12, 1),
        status="canceled",
        ended_at=kst(2026, 1, 1),
        ended_reason="canceled_at_period_end",
    )
    led.paid(j_old, kst(2025, 12, 1), kst(2026, 1, 1), 10_000)
    j_new = led.subscription(j_user, lite, created_at=kst(2026, 3, 20))
    led.paid(j_new, kst(2026, 3, 20), kst(2026, 4, 20), 9_900)

    led.order(led.user("k@example.com", kst(2026, 3, 14)), once, kst(2026, 3, 14, 16))

    l_sub = led.subscription(
        led.user("l@example.com", kst(2026, 2, 18)), lite, created_at=kst(2026, 2, 18), status="past_due"
    )
    led.paid(l_sub, kst(2026, 2, 18), kst(2026, 3, 18), 9_900)
    led.failed(l_sub, kst(2026, 3, 18), kst(2026, 4, 18), 9_900, failed_at=kst(2026, 3, 18))

    m = led.subscription(
        led.user("m@example.com", kst(2026, 3, 22)), lite, created_at=kst(2026, 3, 22), status="incomplete"
    )
    first = led.failed(m, kst(2026, 3, 22, 14), kst(2026, 4, 22), 9_900, failed_at=kst(2026, 3, 22, 14))
    first.status = "failed"
    session.commit()
    return led


@pytest.fixture
def march(db_session):
    return build_march(db_session)


def test_mrr_and_subscribers_at_the_start_and_end_of_the_month(db_session, march):
    start = metrics.mrr_at(db_session, MARCH.start)
    end = metrics.mrr_at(db_session, MARCH.end)

    assert (start.mrr_won, start.subscribers) == (79_800, 7)
    assert (end.mrr_won, end.arr_won, end.subscribers) == (87_600, 1_051_200, 8)
    assert [(p.label, p.subscribers, p.mrr_won) for p in end.by_plan] == [
        ("클라우드 노트 · 라이트", 3, 29_700),
        ("클라우드 노트 · 월간", 2, 20_000),
        ("클라우드 노트 · 연간", 1, 10_000),
        ("클라우드 노트 · 체험", 1, 12_900),
        ("클라우드 노트 · 프리미엄", 1, 15_000),
    ]


def test_the_month_of_march(db_session, march):
    f = metrics.month_figures(db_session, MARCH, now=NOW)

    assert (f.mrr_start.mrr_won, f.mrr_end.mrr_won) == (79_800, 87_600)
    assert (f.new, f.reactivated, f.churned, f.churned_mrr_won) == (2, 1, 1, 20_000)  # B, F new; J back; C gone
    assert f.logo_churn == Ratio(1, 7) and f.logo_churn.percent == "14.3%"
    assert f.revenue_churn == Ratio(20_000, 79_800) and f.revenue_churn.percent == "25.1%"
    assert (f.trials_ended, f.trials_converted, f.trial_conversion.percent) == (2, 1, "50.0%")  # E yes, F no
    assert (f.failed_first, f.failed_first_recovered, f.recovery.percent) == (2, 1, "50.0%")  # H paid, L not; M no
    assert (f.recovered, f.recovered_won) == (1, 10_000)
    assert (f.revenue_subscriptions_won, f.revenue_orders_won, f.gross_won) == (77_600, 29_000, 106_600)
    assert (f.refunds, f.refunds_won, f.net_won) == (1, 3_000, 103_600)


def test_february_and_january_from_the_same_records(db_session, march):
    feb = metrics.month_figures(db_session, Month(2026, 2), now=NOW)
    jan = metrics.month_figures(db_session, Month(2026, 1), now=NOW)

    # Feb starts: E (trial Feb 25), G (Feb 3), L (Feb 18). Jan: A, C, D, H; J's first subscription ends Jan 1.
    assert (feb.new, feb.reactivated, feb.churned) == (3, 0, 0)
    assert (jan.new, jan.churned, jan.churned_mrr_won) == (4, 1, 10_000)
    # On Jan 1 00:00 KST only I (10,000) and J's old subscription (10,000) were paying.
    assert (jan.mrr_start.mrr_won, jan.mrr_start.subscribers) == (20_000, 2)
    assert jan.logo_churn == Ratio(1, 2)


def test_the_current_month_counts_up_to_now(db_session, march):
    midway = kst(2026, 3, 12, 12)  # G's refund comes at 15:00 that day

    f = metrics.month_figures(db_session, MARCH, now=midway)

    assert f.until == midway
    # Paid by Mar 12 12:00: G Mar 3, B Mar 5, H Mar 9, A Mar 10, E Mar 11 = 52,700; no refund yet, no order.
    assert (f.gross_won, f.refunds_won) == (52_700, 0)
    assert (f.trials_ended, f.trials_converted) == (1, 1)  # F's trial ends on the 15th
    assert f.churned == 0


def test_twelve_months_of_trend_end_with_the_current_month(db_session, march):
    points = metrics.trend(db_session, now=NOW)

    assert [str(p.month) for p in points] == [
        "2025-05",
        "2025-06",
        "2025-07",
        "2025-08",
        "2025-09",
        "2025-10",
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
        "2026-03",
        "2026-04",
    ]
    by_month = {str(p.month): p for p in points}
    assert (by_month["2026-03"].gross_won, by_month["2026-03"].net_won) == (106_600, 103_600)
    assert (by_month["2026-03"].mrr_won, by_month["2026-03"].subscribers) == (87_600, 8)
    assert (by_month["2026-04"].gross_won, by_month["2026-04"].mrr_won) == (0, 87_600)
    # December 2025: I paid a year (120,000) and J's first month (10,000).
    assert (by_month["2025-12"].gross_won, by_month["2025-12"].mrr_won) == (130_000, 20_000)
    assert by_month["2025-05"] == metrics.TrendPoint(Month(2025, 5), 0, 0, 0, 0)


def test_a_yearly_period_is_twelve_months_and_a_short_february_one():
    assert metrics.months_in_period(kst(2025, 12, 1), kst(2026, 12, 1)) == 12
    assert metrics.months_in_period(kst(2028, 2, 29), kst(2029, 2, 28)) == 12
    assert metrics.months_in_period(kst(2026, 1, 31), kst(2026, 2, 28)) == 1
    assert metrics.monthly_value(99_000, kst(2026, 1, 1), kst(2027, 1, 1)) * 12 == 99_000


def test_an_empty_shop_has_zero_figures_and_no_rates(db_session):
    f = metrics.month_figures(db_session, MARCH, now=NOW)

    assert (f.mrr_end.mrr_won, f.new, f.churned, f.gross_won) == (0, 0, 0, 0)
    assert f.logo_churn.percent == "-" and f.trial_conversion.value is None


def test_a_month_parses_and_steps_across_years():
    assert Month.parse("2026-03") == MARCH and str(MARCH.previous().previous().previous()) == "2025-12"
    assert MARCH.start == datetime.fromisoformat("2026-02-28T15:00:00+00:00")
    for bad in ("2026-13", "26-03", "2026/03", "", "2026-3x"):
        with pytest.raises(ValueError):
            Month.parse(bad)


def test_what_happened_at_this_very_moment_counts(db_session, march):
    at_ten = kst(2026, 3, 10)  # A's renewal is approved at 10:00:00 exactly

    assert metrics.month_figures(db_session, MARCH, now=at_ten).gross_won == 9_900 + 9_900 + 10_000 + 10_000
    assert metrics.trend(db_session, now=at_ten)[-1].gross_won == 39_800  # G, B, H and A
