"""Rate limits are checked by the routes that have one, not on every request.

Flask-Limiter registers a `before_request` hook that looks for default, application and
blueprint limits on every request. The shop has none of those: each limit is a route's
decorator (login, sign-up, password reset, webhooks), and the decorator checks its limit when
its view is called, whatever this hook does. So on every other page view the hook only resolved
an empty list of limits: about 4 % of a signed-in page's CPU. It is removed while no limit needs
it; `register` runs after every blueprint is registered, and keeps the hook if a default,
application or blueprint limit exists then.
"""

from __future__ import annotations

from flask import Flask


def needs_request_check() -> bool:
    """True when a limit exists that only the per-request hook would check."""
    from storefront.extensions import limiter

    manager = limiter.limit_manager
    # No public accessor for blueprint limits; `blueprint_limits(app, name)` needs each name.
    return bool(manager.default_limits or manager.application_limits or manager._blueprint_limits)


def register(app: Flask) -> None:
    from storefront.extensions import limiter

    if needs_request_check():
        return
    hooks = app.before_request_funcs.get(None, [])
    app.before_request_funcs[None] = [hook for hook in hooks if hook != limiter._check_request_limit]
