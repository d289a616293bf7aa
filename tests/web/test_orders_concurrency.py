"""Two success requests for one order at once (a double click, a reload mid-confirm): one confirm,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storefront.billing.one_time import orders
from storefront.extensions import db
from storefront.models import Attempt, Order, Plan, User
from tests.conftest import make_config
from tests.web.order_support import PRICE, ScriptedToss, make_catalog, payment


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def config(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "postgres":
        return make_config(tmp_path, DATABASE_URL=request.getfixturevalue("postgres_url"))
    return make_config(tmp_path)


class HeldToss(ScriptedToss):
    """Its confirm waits, inside the call, until the test lets it answer."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def confirm_payment(self, *args, **kwargs):
        self.entered.set()
        assert self.release.wait(10), "the test never released the confirm"
        return super().confirm_payment(*args, **kwargs)


def test_a_second_request_during_the_confirm_neither_confirms_nor_fails(app, db_session, clock):
    catalog = make_catalog(db_session)
    user = User(email="buyer@example.com", password_hash="x", name="김구매", created_at=clock.now())
    db_session.add(user)
    db_session.commit()
    order = orders.create_order(
        db_session,
        user=user,
        plan=db_session.get(Plan, catalog.once_plan_id),
        text_version="v",
        ip="127.0.0.1",
        clock=clock,
    )
    order_pk, order_id = order.id, order.order_id
    db_session.remove()
    toss = HeldToss()
    toss.confirms.append(payment(order_id, "DONE", at=clock.now()))
    notifier = app.extensions["storefront"].notifier
    states: dict[str, str] = {}

    def success_request(name: str) -> None:
        with app.app_context():
            try:
                row = db.session.get(Order, order_pk)
                states[name] = orders.confirm_order(
                    db.session,
                    row,
                    payment_key="tpay_order_1",
                    amount_won=PRICE,
                    toss=toss,
                    notifier=notifier,
                    clock=clock,
                ).state
            finally:
                db.session.remove()

    first = threading.Thread(target=success_request, args=("first",))
    first.start()
    assert toss.entered.wait(10)
    second = threading.Thread(target=success_request, args=("second",))
    second.start()
    second.join(10)
    toss.release.set()
    first.join(10)

    assert states == {"first": "paid", "second": "checking"}
    assert toss.count("confirm") == 1 and toss.count("lookup") == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 1
        assert db.session.get(Order, order_pk).status == "paid"
        db.session.remove()
