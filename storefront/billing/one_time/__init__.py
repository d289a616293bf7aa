"""One-time orders: created with the shopper's consent, confirmed once through Toss, settled, expired.

orders (the calls to Toss: create, confirm, settle what is unknown, expire), order_settlement
(applying Toss's answer to the rows, and the plain-Korean reasons).
"""
