"""Folding what Toss knows into our records: webhooks as they come, and the daily reconciliation (대사).

webhook_events (record every delivery once, act on what Toss confirms), reconciliation (one
Korean day of Toss's transactions against ours; differences flagged, never "fixed").
"""
