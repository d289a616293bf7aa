"""How many SQL statements each page runs: a fixed bound, and the same count for a short history as
for a long one, so a per-row query (an N+1: a lazy load in a loop or a template) shows up here.

Counted with SQLAlchemy's `before_cursor_execute` on the app's engine; each page is viewed once
first (the catalog cache fills, Flask-Login and the session settle), then counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from storefront import accounts
from storefront.extensions import db
from storefront.models import (
    Attempt,
    BillingKey,
    Charge,
    Order,
    Plan,
    PriceChange,
    Product,
    Refund,
    Subscription,
    User,
)
from storefront.seed import seed_demo
from tests.web.admin_support import ADMIN_EMAIL, ADMIN_PASSWORD

SHOPPER = ("history@example.com", "correct horse 1")
# Months of payments (and one-time orders) in the two histories compared. Both fill the dashboard's
# 12-month trend, which reads once per month shown (reports/metrics.py), not once per row.
SHORT, LONG = 13, 40

# page -> the most statements it may run (signed in, catalog cached). Raise a bound only for a
# new query that is not per row; a count that grows with the history is a bug whatever the bound.
SHOPPER_PAGES = {
    "/": 2,  # the catalog version, the signed-in user
    "/categories/classes": 2,
    "/products/daily-english": 2,
    # user, subscriptions (joined with plan, product, card, booked plan; whether a price change waits for an
    # answer; and the live ones' current periods: charge, attempts, refunds, shared by 청약철회 and the
    # period-refund line, whatever the number of subscriptions), payments, orders; the open consents only
    # when one waits (+1, in test_account_reads_open_consents_only_when_one_waits)
    "/account": 4,
    "/account/payments": 2,
    "/account/payments?page=2": 2,
}
ADMIN_PAGES = {
    "/admin/": 74,  # the figures: a query or a few per figure and per month of the trend, none per row
    "/admin/subscriptions": 7,  # user, the access-log row and its commit, count, page (+users, plans, products)
    "/admin/customers": 4,
    "/admin/products": 10,
    "/admin/orders": 9,
    "/admin/attempts": 10,
    "/admin/refunds": 4,
}


@contextmanager
def counted(app) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def add_history(session, user: User, months: int, now: datetime) -> None:
    """`months` monthly renewals (every fifth declined first, then paid; one partly refunded) on a
    new subscription, and `months` paid one-time orders."""
    plans = {(p.product.slug, p.interval): p for p in session.scalars(select(Plan).join(Product))}
    monthly, once = plans[("daily-english", "month")], plans[("presentation-pack", "once")]
    card = BillingKey(
        user=user,
        customer_key=user.customer_key,
        issued_at=now,
        card_company="현대",
        card_number_masked="43301234****123*",
    )
    start = now - timedelta(days=31 * months)
    sub = Subscription(
        user=user,
        plan=monthly,
        billing_key=card,
        status="active",
        amount_won=monthly.amount_won,
        anchor_day=start.day,
        current_period_start=now - timedelta(days=1),
        current_period_end=now + timedelta(days=29),
        next_charge_at=now + timedelta(days=29),
        created_at=start,
    )
    session.add_all([card, sub])
    serial = session.scalar(select(Attempt.id).order_by(Attempt.id.desc()).limit(1)) or 0

    def attempt(at: datetime, status: str, amount: int, **links) -> Attempt:
        nonlocal serial
        serial += 1
        done = status == "done"
        return Attempt(
            order_id=f"history-{serial:05d}",
            idempotency_key=f"history-{serial}",
            amount_won=amount,
            status=status,
            failure_code=None if done else "REJECT_CARD_PAYMENT",
            receipt_url=f"https://receipts.example/{serial}" if done else None,
            card_summary="현대 43301234****123*",
            approved_at=at if done else None,
            raw_response="{}",
            created_at=at,
            updated_at=at,
            **links,
        )

    for month in range(months):
        at = start + timedelta(days=31 * month)
        if month == months - 1:
            at = now - timedelta(days=1)  # the current period's charge
        charge = Charge(
            subscription=sub,
            period_start=at,
            period_end=at + timedelta(days=30),
            status="paid",
            amount_won=sub.amount_won,
            paid_at=at,
            created_at=at,
        )
        if month % 5 == 1:
            session.add(attempt(at, "failed", charge.amount_won, charge=charge))
        paid = attempt(at, "done", charge.amount_won, charge=charge)
        session.add(paid)
        if month == 2:
            session.add(
                Refund(
                    attempt=paid,
                    amount_won=1000,
                    reason="부분 환불",
                    status="done",
                    idempotency_key=f"history-refund-{serial}",
                    created_at=at,
                    settled_at=at,
                )
            )
        order = Order(
            user=user,
            plan=once,
            order_id=f"history-order-{serial}",
            order_name=once.product.name,
            amount_won=once.amount_won,
            status="paid",
            receipt_url="https://receipts.example/o",
            created_at=at,
            expires_at=at + timedelta(minutes=30),
            paid_at=at,
        )
        session.add_all([order, attempt(at, "done", order.amount_won, order=order)])
    session.flush()


def shop_with(app, clock, months: int) -> tuple:
    """The demo catalog, an admin, a shopper with `months` of history and a few more subscribers."""
    with app.app_context():
        session = db.session
        now = clock.now()
        seed_demo(session, now=now, cheap_hash=True, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
        shopper = accounts.create_user(
            session, accounts.NewUser(email=SHOPPER[0], password=SHOPPER[1], name="김이력"), now=now, cheap_hash=True
        )
        add_history(session, shopper, months, now)
        for i in range(months // 3):  # other customers, so admin lists grow too
            other = accounts.create_user(
                session,
                accounts.NewUser(email=f"other{i}@example.com", password=SHOPPER[1], name=f"고객{i}"),
                now=now,
                cheap_hash=True,
            )
            add_history(session, other, 2, now)
        session.commit()
    return now


def sign_in(client, email: str, password: str) -> None:
    from tests.conftest import csrf_token

    response = client.post(
        "/login", data={"csrf_token": csrf_token(client, "/login"), "email": email, "password": password}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def statements_per_page(app, client, pages: dict[str, int]) -> dict[str, int]:
    found = {}
    for path in pages:
        assert client.get(path).status_code == 200, path
        with counted(app) as statements:
            response = client.get(path)
        assert response.status_code == 200, path
        found[path] = len(statements)
    return found


@pytest.mark.parametrize("role", ["shopper", "admin"])
def test_pages_run_a_bounded_number_of_statements_whatever_the_history(app, clock, tmp_path, role):
    from storefront import create_app
    from tests.conftest import make_config

    pages = SHOPPER_PAGES if role == "shopper" else ADMIN_PAGES
    email, password = SHOPPER if role == "shopper" else (ADMIN_EMAIL, ADMIN_PASSWORD)
    counts = {}
    for months, directory in ((SHORT, tmp_path / "short"), (LONG, tmp_path / "long")):
        directory.mkdir()
        shop = create_app(make_config(directory), clock=clock, toss=app.extensions["storefront"].toss)
        with shop.app_context():
            db.create_all()
        shop_with(shop, clock, months)
        client = shop.test_client()
        sign_in(client, email, password)
        counts[months] = statements_per_page(shop, client, pages)
        with shop.app_context():
            db.session.remove()
            db.engine.dispose()

    over = {path: n for path, n in counts[LONG].items() if n > pages[path]}
    assert over == {}, f"more statements than the bound {pages}: {over}"
    grew = {
        path: (counts[SHORT][path], counts[LONG][path]) for path in pages if counts[LONG][path] != counts[SHORT][path]
    }
    assert grew == {}, f"statements that grow with the rows ({SHORT} vs {LONG} months): {grew}"


def test_account_reads_the_same_statements_for_one_live_subscription_as_for_several(app, clock, tmp_path):
    """/account judges 청약철회 and the period-refund line for each live subscription from one shared read of
    their current periods: a third subscription adds rows, not statements."""
    from storefront import create_app
    from tests.conftest import make_config

    counts = {}
    for subscriptions, directory in ((1, tmp_path / "one"), (3, tmp_path / "three")):
        directory.mkdir()
        shop = create_app(make_config(directory), clock=clock, toss=app.extensions["storefront"].toss)
        with shop.app_context():
            db.create_all()
        now = shop_with(shop, clock, SHORT)
        with shop.app_context():
            shopper = db.session.scalar(select(User).where(User.email == SHOPPER[0]))
            for _ in range(subscriptions - 1):
                add_history(db.session, shopper, 3, now)
            db.session.commit()
            live = db.session.scalar(
                select(func.count(Subscription.id)).where(
                    Subscription.user_id == shopper.id, Subscription.status == "active"
                )
            )
            assert live == subscriptions
        client = shop.test_client()
        sign_in(client, *SHOPPER)
        counts[subscriptions] = statements_per_page(shop, client, {"/account": SHOPPER_PAGES["/account"]})["/account"]
        with shop.app_context():
            db.session.remove()
            db.engine.dispose()
    assert counts[3] == counts[1] <= SHOPPER_PAGES["/account"], counts


def test_account_reads_open_consents_only_when_one_waits(app, clock, db_session, client):
    """The subscriptions' statement says whether a price change waits for an answer; the open-consent
    statement runs only then (one more), and the page shows the change."""
    from storefront.billing.compliance import consent

    now = shop_with(app, clock, SHORT)
    sign_in(client, *SHOPPER)
    without = statements_per_page(app, client, {"/account": SHOPPER_PAGES["/account"]})["/account"]
    sub = db_session.scalar(
        select(Subscription).join(User).where(User.email == SHOPPER[0], Subscription.status == "active")
    )
    change = PriceChange(
        subscription_id=sub.id,
        kind="price_increase",
        reason="plan_price",
        old_amount_won=sub.amount_won,
        new_amount_won=sub.amount_won + 1000,
        effective_at=sub.next_charge_at,
        token="waiting-change",
        status="pending",
        requested_at=now,
        created_at=now,
    )
    db_session.add(change)
    db_session.commit()
    assert consent.open_changes_for_user(db_session, sub.user_id, now=now) == [change]
    waiting = statements_per_page(app, client, {"/account": SHOPPER_PAGES["/account"]})["/account"]
    assert waiting == without + 1
    assert "동의가 필요한 변경" in client.get("/account").get_data(as_text=True)
