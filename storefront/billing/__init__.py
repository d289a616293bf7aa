"""The billing domain: no request, no session object from Flask, no template in here.

One folder per capability:

- recurring/: subscriptions from checkout to each renewal (checkout, subscriptions,
  admin_actions, cycle, periods, charging, settlement, proration).
- one_time/: one-time orders (orders, order_settlement).
- compliance/: what the law asks (consent, price_changes, notices, cooling_off, withdrawal).
- refunding/: refunds and the notices of refunds made at Toss (refunds, refund_notices).
- wallet/: billing keys (cards, vault).
- toss_sync/: folding Toss's view into ours (webhook_events, reconciliation).
- errors.py: the exceptions and the plain-Korean reasons shoppers are shown.
"""
