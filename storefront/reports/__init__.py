"""What the merchant reads about the business, computed from our own rows: figures, exports, VAT, go-live checks.

Plain functions of a session, a clock's moment and the configuration; no Flask request,
session or template in here (the admin views in `storefront.web.admin` render them).
Months and days are those of Asia/Seoul; money is whole won, VAT included.
"""
