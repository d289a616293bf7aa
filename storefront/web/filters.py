"""Template filters and the context every page gets (the business-info footer).

The formatting itself (`won`, `kst_date`, ...) is `storefront.formatting`'s, shared with the
notices; this module registers it for the pages.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from flask import Flask, current_app, request
from markupsafe import Markup

from storefront.config import BusinessInfo
from storefront.web.csrf_tokens import csrf_token
from storefront.formatting import interval_label, interval_unit, kst, kst_date, kst_datetime, kst_time, mobile, won


def hidden_fields(form: Any) -> Markup:
    """A form's hidden inputs (the CSRF token) without ids: several forms on one page stay valid HTML.

    `form.hidden_tag()` gives every token `id="csrf_token"`, a duplicate id on pages with
    more than one form; nothing points at that id.
    """
    return Markup(
        "".join(str(field(id=False)) for field in form if getattr(field.widget, "input_type", None) == "hidden")
    )


_CSRF_INPUT = Markup('<input name="csrf_token" type="hidden" value="{}">')


def csrf_input() -> Markup:
    """The CSRF input `hidden_fields(ActionForm())` renders, without building a form (for a page of buttons).

    The same token Flask-WTF's forms and `csrf_token()` use (web/csrf_tokens.py).
    """
    return _CSRF_INPUT.format(csrf_token())


def site_footer(app: Flask) -> Callable[[], Markup]:
    """The business-info footer (`_footer.html`), rendered once per business info and script root.

    It shows only the configured business info and the policy pages' links, the same on every
    page, so each process renders it once instead of on every page view.
    """

    @lru_cache(maxsize=16)
    def rendered(business: BusinessInfo, script_root: str) -> Markup:
        return Markup(app.jinja_env.get_template("_footer.html").render(business=business))

    def footer() -> Markup:
        return rendered(app.config["STOREFRONT"].business, request.script_root)

    return footer


def register(app: Flask) -> None:
    app.add_template_filter(won, "won")
    app.add_template_filter(kst, "kst")
    app.add_template_filter(kst_date, "kst_date")
    app.add_template_filter(kst_time, "kst_time")
    app.add_template_filter(kst_datetime, "kst_datetime")
    app.add_template_filter(interval_label, "interval_label")
    app.add_template_filter(interval_unit, "interval_unit")
    app.add_template_filter(mobile, "mobile")
    app.add_template_global(hidden_fields, "hidden_fields")
    app.add_template_global(csrf_input, "csrf_input")
    app.add_template_global(site_footer(app), "site_footer")

    @app.context_processor
    def footer_context():
        config = current_app.config["STOREFRONT"]
        return {"business": config.business, "toss_env": config.toss_env}
