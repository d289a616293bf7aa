"""내 구독's payment history: the newest on /account, all of it a page at a time on /account/payments."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.dialects import sqlite

from storefront import accounts
from storefront.extensions import db
from storefront.seed import seed_demo
from storefront.web.account import queries
from tests.web.test_query_counts import SHOPPER, add_history, sign_in


def payment_rows(html: str) -> list[str]:
    table = html.split('<section class="account-payments">')[-1].split("</table>")[0]
    return re.findall(r'<td data-label="결제일">(?:<span class="date">)?([^<]+)<', table)


def shopper_with_history(app, clock, months: int):
    with app.app_context():
        seed_demo(db.session, now=clock.now(), cheap_hash=True)
        user = accounts.create_user(
            db.session,
            accounts.NewUser(email=SHOPPER[0], password=SHOPPER[1], name="김이력"),
            now=clock.now(),
            cheap_hash=True,
        )
        add_history(db.session, user, months, clock.now())
        db.session.commit()
    client = app.test_client()
    sign_in(client, *SHOPPER)
    return client


def test_account_shows_the_newest_payments_and_pages_through_the_rest(app, clock):
    client = shopper_with_history(app, clock, 40)  # 40 paid renewals and 8 declines: 48 rows

    overview = client.get("/account").get_data(as_text=True)
    newest = payment_rows(overview)
    assert len(newest) == 5 and 'href="/account/payments"' in overview

    first = client.get("/account/payments").get_data(as_text=True)
    second = client.get("/account/payments?page=2").get_data(as_text=True)
    assert payment_rows(first)[:5] == newest
    assert len(payment_rows(first)) == 30 and 'href="/account/payments?page=2"' in first
    assert len(payment_rows(second)) == 18 and "page=3" not in second and 'href="/account/payments?page=1"' in second
    assert "결제 실패" in first + second and "부분 환불" in first + second and "매출전표" in first


def test_a_short_history_fits_on_the_account_page(app, clock):
    client = shopper_with_history(app, clock, 3)
    overview = client.get("/account").get_data(as_text=True)
    assert len(payment_rows(overview)) == 4 and "/account/payments" not in overview


def test_payment_pages_need_a_sign_in_and_a_real_page_number(app, client, clock):
    assert client.get("/account/payments").status_code == 302
    signed_in = shopper_with_history(app, clock, 1)
    assert signed_in.get("/account/payments?page=0").status_code == 404
    assert signed_in.get("/account/payments?page=99999999999").status_code == 404
    assert signed_in.get("/account/payments?page=x").status_code == 200


def test_the_history_is_read_from_the_shoppers_own_rows(app, clock):
    """The payments query starts from the shopper's subscriptions, not from every shopper's approved
    attempts (SQLite's plan once read ix_attempts_status: a cost growing with the whole shop's history)."""
    import pytest
    from sqlalchemy import event, select

    from storefront.models import User
    from storefront.web.account import queries

    shopper_with_history(app, clock, 3)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "sqlite":
            pytest.skip("SQLite's query plan; PostgreSQL plans from its own statistics")
        seen: list[tuple] = []

        def record(conn, cursor, statement, parameters, context, executemany) -> None:
            seen.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", record)
        try:
            user_id = db.session.scalar(select(User.id).where(User.email == SHOPPER[0]))
            queries.payments_of(db.session, user_id)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        statement, parameters = seen[-1]
        explained = db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        plan = [row[-1] for row in explained]
    assert "ix_attempts_status" not in " ".join(plan), plan
    assert plan[0].startswith("SEARCH subscriptions USING") and "user_id" in plan[0], plan


def test_the_pages_fixed_code_lists_are_written_into_the_sql():
    """The decline codes and order statuses are constants: no expanding parameter to rewrite per view, and
    only plain codes are ever written into the SQL."""
    for statement in (queries._PAYMENTS, queries._ORDERS):
        compiled = statement.compile(dialect=sqlite.dialect())
        assert not [name for name, bind in compiled.binds.items() if bind.expanding]
    assert "'REJECT_CARD_COMPANY'" in str(queries._PAYMENTS.compile(dialect=sqlite.dialect()))
    with pytest.raises(ValueError):
        queries._written_in(["paid", "x' OR '1'='1"])
