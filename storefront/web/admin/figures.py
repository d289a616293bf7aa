"""The dashboard's business figures: the chosen month's numbers and the three twelve-month charts.

`reports.metrics` computes; this module picks the month from the query string and turns the
trend into `charts.Chart`s, each with a one-sentence Korean summary and its data table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from storefront.reports import metrics
from storefront.reports.months import Month
from storefront.web.admin import charts
from storefront.formatting import won


@dataclass(frozen=True)
class Business:
    month: Month
    current: Month
    figures: metrics.MonthFigures
    trials_now: int
    at_risk: tuple[int, int]
    charts: tuple[charts.Chart, ...]


def chosen_month(raw: str | None, now: datetime) -> Month:
    """The month asked for (?month=YYYY-MM), never after the current one; the current month otherwise."""
    current = Month.of(now)
    try:
        month = Month.parse(raw) if raw else current
    except ValueError:
        return current
    return min(month, current)


def business(session: Session, *, now: datetime, month_param: str | None) -> Business:
    month = chosen_month(month_param, now)
    points = metrics.trend(session, now=now)
    return Business(
        month=month,
        current=Month.of(now),
        figures=metrics.month_figures(session, month, now=now),
        trials_now=metrics.trial_subscribers(session),
        at_risk=metrics.at_risk(session),
        charts=(revenue_chart(points), mrr_chart(points), subscribers_chart(points)),
    )


def revenue_chart(points: list[metrics.TrendPoint]) -> charts.Chart:
    best = max(points, key=lambda p: (p.net_won, p.month))
    summary = (
        f"최근 12개월 순매출 합계는 {won(sum(p.net_won for p in points))}이고, "
        f"이번 달({points[-1].month.label})은 지금까지 {won(points[-1].net_won)}입니다. "
        f"가장 많은 달은 {best.month.label}({won(best.net_won)})입니다."
    )
    return _chart(
        "chart-revenue",
        "월별 순매출 (결제 − 환불)",
        summary,
        points,
        "bar",
        [p.net_won for p in points],
        charts.won_short,
        ("월", "결제", "환불", "순매출"),
        [(p.month.label, won(p.gross_won), won(p.refunds_won), won(p.net_won)) for p in points],
    )


def mrr_chart(points: list[metrics.TrendPoint]) -> charts.Chart:
    first, last = points[0], points[-1]
    summary = (
        f"MRR은 {first.month.label} 말 {won(first.mrr_won)}에서 지금 {won(last.mrr_won)}입니다 "
        f"({_delta(last.mrr_won - first.mrr_won, won)})."
    )
    return _chart(
        "chart-mrr",
        "월말 MRR (월 반복 매출)",
        summary,
        points,
        "line",
        [p.mrr_won for p in points],
        charts.won_short,
        ("월", "MRR"),
        [(p.month.label, won(p.mrr_won)) for p in points],
    )


def subscribers_chart(points: list[metrics.TrendPoint]) -> charts.Chart:
    first, last = points[0], points[-1]
    summary = (
        f"유료 구독자는 {first.month.label} 말 {first.subscribers:,}명에서 지금 {last.subscribers:,}명입니다 "
        f"({_delta(last.subscribers - first.subscribers, lambda n: f'{n:,}명')})."
    )
    return _chart(
        "chart-subscribers",
        "월말 유료 구독자 수",
        summary,
        points,
        "line",
        [p.subscribers for p in points],
        lambda n: f"{n:,}",
        ("월", "유료 구독자"),
        [(p.month.label, f"{p.subscribers:,}명") for p in points],
    )


def _delta(change: int, fmt) -> str:
    if change > 0:
        return f"{fmt(change)} 증가"
    if change < 0:
        return f"{fmt(-change)} 감소"
    return "변화 없음"


def _chart(chart_id, title, summary, points, kind, values, fmt, columns, rows) -> charts.Chart:
    svg = charts.render(
        chart_id, [p.month.short_label for p in points], values, kind=kind, title=title, desc=summary, fmt=fmt
    )
    return charts.Chart(chart_id, title, summary, svg, tuple(columns), tuple(tuple(r) for r in rows))
