"""How amounts and moments read on the pages and in the notices (one module for both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storefront import formatting


def test_amounts_and_korean_dates():
    moment = datetime(2026, 12, 1, 15, 5, 9, tzinfo=UTC)  # 2 Dec, 00:05 in Seoul
    assert formatting.won(9900) == "9,900원" and formatting.won(None) == "-"
    assert formatting.kst_date(moment) == "2026년 12월 2일"
    assert formatting.kst_datetime(moment) == "2026년 12월 2일 00:05"
    assert formatting.kst_time(moment, seconds=True) == "00:05:09"
    assert formatting.kst(moment) == "2026-12-02 00:05"
    assert (formatting.interval_label("year"), formatting.interval_unit("month")) == ("매년", "월")
    assert formatting.interval_label("weekly") == "weekly"


def test_pages_and_notices_use_the_same_functions(app):
    from storefront.notify.render import default_environment

    env = default_environment()
    for name in ("won", "kst", "kst_date"):
        assert app.jinja_env.filters[name] is getattr(formatting, name) is env.filters[name]


def test_kst_datetime_is_kst_date_and_kst_time_joined():
    moment = datetime(2026, 1, 1, 0, 0, 7, tzinfo=UTC)
    for step in range(0, 60 * 24 * 400, 997):  # minutes across a year and both date lines
        at = moment + timedelta(minutes=step, seconds=step % 60)
        for seconds in (False, True):
            expected = f"{formatting.kst_date(at)} {formatting.kst_time(at, seconds)}"
            assert formatting.kst_datetime(at, seconds) == expected
    assert formatting.kst_datetime(None) == "-"
