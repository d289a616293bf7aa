"""`Subscription.status` in groups, named once: every rule asking "is it running?" or "has it ended?" reads these.

A subscription starts `incomplete` (its first charge not yet approved), runs as `trialing`, `active` or
`past_due` (a declined renewal being retried), and ends `canceled` or `unpaid` (dunning gave up).
Rules that happen to allow the same statuses keep their own names for what they decide
(`subscriptions.CANCELABLE_AT_PERIOD_END`, `subscriptions.PLAN_CHANGEABLE`), built from these.
"""

from __future__ import annotations

RUNNING = ("trialing", "active", "past_due")  # started and not ended: its trial or period goes on
NOT_ENDED = ("incomplete", *RUNNING)  # may still charge its card
ENDED = ("canceled", "unpaid")
