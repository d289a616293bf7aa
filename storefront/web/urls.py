"""The templates' `url_for`, with each URL built once per process instead of once per call.

A signed-in page calls `url_for` a couple of dozen times (the nav, the stylesheets, the footer's
policy links, a form per subscription), and each call goes through werkzeug's rule builder. An
internal URL depends only on the endpoint, its values and the request's SCRIPT_NAME (no rule
here has a host or subdomain, and the URL map is fixed once the app serves), so the built URL is
kept under exactly those. Anything else is built every time: `_external`, `_anchor`, `_method`,
`_scheme`, blueprint-relative endpoints (``.name``), values that are not plain str/int, and
every call when the app registers `url_defaults` (they could change a URL per request).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from flask import Flask
from flask.globals import _cv_request

_PLAIN = (str, int)


def register(app: Flask) -> None:
    app.jinja_env.globals["url_for"] = memoised_url_for(app)


def memoised_url_for(app: Flask) -> Callable[..., str]:
    build = app.url_for

    @lru_cache(maxsize=4096)
    def built(script_name: str, endpoint: str, values: tuple[tuple[str, type, Any], ...]) -> str:
        return build(endpoint, **{name: value for name, _, value in values})

    def url_for(endpoint: str, **values: Any) -> str:
        ctx = _cv_request.get(None)
        if (
            ctx is None
            or endpoint[:1] == "."
            or app.url_default_functions
            or any(name[:1] == "_" or type(value) not in _PLAIN for name, value in values.items())
        ):
            return build(endpoint, **values)
        script_name = ctx.url_adapter.script_name if ctx.url_adapter is not None else None
        if script_name is None:
            return build(endpoint, **values)
        # The type is part of the key: True == 1, but they build different URLs.
        return built(script_name, endpoint, tuple(sorted((n, type(v), v) for n, v in values.items())))

    url_for.cache_info = built.cache_info  # type: ignore[attr-defined]
    return url_for
