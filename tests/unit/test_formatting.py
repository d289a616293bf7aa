"""How amounts and moments read on the pages and in the notices (one module for both)."""

from __future__ import annotations

from datetime import UTC, datetime

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
