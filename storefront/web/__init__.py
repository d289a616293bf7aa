"""Blueprints, error pages, security headers and template helpers, registered explicitly."""

from __future__ import annotations

from flask import Flask, render_template, send_from_directory
from werkzeug.exceptions import HTTPException

from storefront.web import csrf_tokens, filters, request_ids, route_limits, security, session_cookie, urls


def register(app: Flask) -> None:
    from storefront.web.account import bp as account_bp
    from storefront.web.admin import bp as admin_bp
    from storefront.web.auth import bp as auth_bp
    from storefront.web.checkout import bp as checkout_bp
    from storefront.web.guest_pages import GuestPages
    from storefront.web.consent import bp as consent_bp
    from storefront.web.health import bp as health_bp
    from storefront.web.legal import bp as legal_bp
    from storefront.web.media import bp as media_bp
    from storefront.web.media import product_image_url
    from storefront.web.metrics import bp as metrics_bp
    from storefront.web.orders import bp as orders_bp
    from storefront.web.shop import bp as shop_bp
    from storefront.web.webhooks import bp as webhooks_bp

    for bp in (
        shop_bp,
        legal_bp,
        auth_bp,
        account_bp,
        checkout_bp,
        orders_bp,
        consent_bp,
        admin_bp,
        webhooks_bp,
        health_bp,
        metrics_bp,
        media_bp,
    ):
        app.register_blueprint(bp)
    session_cookie.register(app)
    request_ids.register(app)
    app.add_template_global(product_image_url)
    csrf_tokens.register(app)
    filters.register(app)
    urls.register(app)
    security.register(app)
    route_limits.register(app)  # after every blueprint: their limits are known by now
    _register_error_pages(app)
    # Outermost but for nothing: cookie-less catalog views are answered from it (web/guest_pages.py).
    app.wsgi_app = GuestPages(app, app.wsgi_app)  # type: ignore[method-assign]
    # Browsers ask for /favicon.ico whatever the page links; answer with the SVG icon.
    static_folder = app.static_folder
    assert static_folder is not None  # create_app passes the repository's static/
    app.add_url_rule(
        "/favicon.ico", "favicon", lambda: send_from_directory(static_folder, "favicon.svg", mimetype="image/svg+xml")
    )


def _register_error_pages(app: Flask) -> None:
    from storefront.extensions import db

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code and exc.code >= 500:
            db.session.rollback()
        return render_template("errors/error.html", error=exc), exc.code

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        # Logged with its traceback for us; the shopper sees the site's own page.
        app.logger.exception("unhandled error")
        db.session.rollback()
        return render_template("errors/error.html", error=None), 500
