"""Subscriptions: from checkout to each renewal charged exactly once, and what the shopper and admin change.

checkout (consent to a subscription with its first period paid), subscriptions (cancel,
resume, change card, change plan), admin_actions (the same from the admin, plus what only
the admin does), cycle (billing dates), periods (which Charge is due, the row lock), charging
(charge a period exactly once, reconcile, retry after a card change), settlement (paid /
declined / dunning, and the notices), proration (the pro-rata refund of 바로 해지).
"""
