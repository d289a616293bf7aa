"""How many SQL statements one renewal charge sends: each is a round trip paid in worker and database CPU.

On a billing day the cores are the limit (bench/billing.py prints the CPU per charge), so a
lazy load or a second look-up creeping back into `charge_period` is a cost every charge pays.
The count is of statements the database sees (SAVEPOINTs included, BEGIN/COMMIT not).
"""

from __future__ import annotations

from sqlalchemy import event, func, select

from storefront.billing.recurring import charging
from storefront.models import Attempt, EmailMessage, Subscription

# One renewal, paid, its receipt queued: 19 on SQLite (the lock is an UPDATE then a SELECT), one
# fewer on PostgreSQL (SELECT ... FOR UPDATE). It was 33 when the plan, product, card and user
# were lazy-loaded twice and the period's Charge looked up twice, and 20 while the unpaid Charge
# and the new period's Charge were two look-ups, 19 while the new Charge was inserted in a SAVEPOINT.
RENEWAL_STATEMENTS = 17


def test_a_renewal_charge_takes_a_bounded_number_of_statements(shop, app):
    notifier = app.extensions["storefront"].notifier  # the real outbox, as a worker has it
    sub_id = shop.subscribe(status="active").id
    shop.session.close()  # a worker's job starts with an empty session
    engine = shop.session.get_bind()
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split(None, 1)[0])

    event.listen(engine, "before_cursor_execute", count)
    try:
        result = charging.charge_period(
            shop.session,
            sub_id,
            toss=shop.toss,
            vault=shop.vault,
            notifier=notifier,
            clock=shop.clock,
            config=shop.config,
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert result.outcome == "paid"
    assert len(statements) <= RENEWAL_STATEMENTS, statements
    # What the statements did is all there: the attempt, the paid period, the receipt in the outbox.
    assert shop.session.scalar(select(func.count(Attempt.id)).where(Attempt.status == "done")) == 1
    assert shop.session.get(Subscription, sub_id).next_charge_at > shop.clock.now()
    receipt = shop.session.scalars(select(EmailMessage).where(EmailMessage.kind == "payment_receipt")).one()
    assert receipt.status == "queued" and receipt.body_text
