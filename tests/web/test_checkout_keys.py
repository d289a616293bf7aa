"""A card registered at checkout survives `flask keys rotate`, and the old ENCRYPTION_KEY can then go."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storefront import create_app
from storefront.billing.recurring import charging
from storefront.extensions import db
from storefront.models import BillingKey, Subscription
from tests.conftest import TEST_ENCRYPTION_KEY, make_config
from tests.fakes import FakeToss
from tests.web.checkout_support import Shopper, make_catalog

NEW_KEY = "a1" * 32


@pytest.fixture
def toss(clock) -> FakeToss:
    return FakeToss(clock)


def test_rotation_reseals_checkout_cards_and_renewals_work_without_the_old_key(
    app, client, db_session, toss, clock, tmp_path
):
    catalog = make_catalog(db_session)
    Shopper(client, db_session).signup().subscribe(catalog.monthly)
    [billing_key] = toss.billing_keys
    old_id = db_session.scalars(select(BillingKey.key_id)).one()
    db_session.remove()

    rotating = create_app(
        make_config(tmp_path, ENCRYPTION_KEY=NEW_KEY, ENCRYPTION_KEYS_OLD=TEST_ENCRYPTION_KEY), clock=clock, toss=toss
    )
    with rotating.app_context():  # the test's own app context (db_session) would otherwise win
        first = rotating.test_cli_runner().invoke(args=["keys", "rotate"])
        assert "re-sealed 1 billing key(s)" in first.output
        assert "re-sealed 0" in rotating.test_cli_runner().invoke(args=["keys", "rotate"]).output
    _dispose(rotating)

    new_only = create_app(make_config(tmp_path, ENCRYPTION_KEY=NEW_KEY), clock=clock, toss=toss)
    with new_only.app_context():
        row = db.session.scalars(select(BillingKey)).one()
        assert row.key_id != old_id
        sub = db.session.scalars(select(Subscription)).one()
        clock.set(sub.next_charge_at)
        found = new_only.extensions["storefront"]
        result = charging.charge_period(
            db.session,
            sub.id,
            toss=toss,
            vault=found.vault,
            notifier=found.notifier,
            clock=clock,
            config=new_only.config["STOREFRONT"],
        )
        assert result.outcome == "paid"
    _dispose(new_only)
    assert [call.billing_key for call in toss.calls] == [billing_key, billing_key]


def _dispose(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_purge_unused_forgets_the_cards_of_ended_subscriptions_only(app, client, db_session, toss):
    catalog = make_catalog(db_session)
    shopper = Shopper(client, db_session).signup()
    shopper.subscribe(catalog.monthly)
    shopper.subscribe(catalog.trial)
    ended, live = shopper.subscriptions()
    ended.status = "unpaid"  # the engine ended it after dunning, without releasing its card
    db_session.commit()

    output = app.test_cli_runner().invoke(args=["keys", "purge-unused"]).output
    assert "destroyed 1 billing key(s)" in output
    db_session.expire_all()
    assert ended.billing_key.sealed is None and live.billing_key.sealed is not None
    assert len(toss.deleted_keys) == 1
