"""Refunds: cancelling all or part of a paid Attempt at Toss exactly once, and telling the shopper.

refunds (the life of a Refund row, folding Toss's cancels into ours), refund_notices (the
shopper is told once of a refund made outside the store).
"""
