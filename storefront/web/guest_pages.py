"""Whole catalog pages for guests, kept per web process under the catalog version.

A visitor whose request carries no cookie at all has no session: no sign-in, no flashed message,
no CSRF token, so the shop's pages (home, category, product) are the same bytes for every such
visitor until the catalog changes. This WSGI middleware, in front of Flask, keeps those bytes
(status, headers, body) labelled with the catalog version they were rendered at
(`catalog_cache.snapshot`), and answers the next cookie-less GET of the same path while
`catalog_versions.version` has not moved: one indexed single-row SELECT, no Flask request. A path
not in the store (a static file, /healthz, a first view) goes to Flask without reading the version.

What makes a page stored, all at once:
- the request: GET, no query string, no ``Cookie`` header;
- the view offered it (`offer`, called by the shop's views only, for a visitor not signed in);
- the answer: 200, no ``Set-Cookie`` (rendering put nothing in a session).

A request with any cookie (a signed-in shopper, a guest who opened the login form and holds a
CSRF session, a flashed message waiting) never reads the store and never fills it. Each answer
from the store gets its own ``X-Request-ID`` (`request_ids.request_id_for`). Hits skip Flask's
before/after-request hooks: none of them changes a guest's catalog page today (the security
headers are stored with the page); a new hook that must run on every request has to be added
here too (see docs/operations.md, "Page benchmark").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, request
from sqlalchemy.engine import Engine

from storefront import catalog_version
from storefront.web import request_ids

_OFFERED = "storefront.guest_page"
_PER_REQUEST_HEADERS = {request_ids.HEADER.lower(), "set-cookie"}


def offer() -> None:
    """Called by a view whose page shows nothing but the catalog and the settings to a guest."""
    request.environ[_OFFERED] = True


@dataclass(frozen=True)
class _Page:
    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class _Store:
    version: int
    pages: dict[str, _Page]  # path -> page, every one rendered at `version`


class GuestPages:
    """The middleware: `app.wsgi_app = GuestPages(app, app.wsgi_app)`."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self._engine: Engine | None = None
        # Replaced whole when the catalog moves; readers and writers take one reference to it, so a
        # page is only ever read from and put into the store of its own version (gthread workers too).
        self._store = _Store(version=-1, pages={})

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING") or environ.get("HTTP_COOKIE"):
            return self.wsgi_app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        store = self._store
        if path not in store.pages:  # rendered whatever the version: static files, /healthz, a first view
            return self._render_and_keep(path, environ, start_response)
        try:
            version = self._current_version()
        except Exception:  # noqa: BLE001 - the database is away: Flask answers (its own error page, logged)
            return self.wsgi_app(environ, start_response)
        page = store.pages.get(path) if store.version == version else None
        if page is not None:
            start_response(page.status, [*page.headers, (request_ids.HEADER, request_ids.request_id_for(environ))])
            return [page.body]
        return self._render_and_keep(path, environ, start_response)

    def _current_version(self) -> int:
        if self._engine is None:
            from storefront.extensions import db

            with self.app.app_context():
                self._engine = db.engine
        with self._engine.connect() as connection:
            return catalog_version.read_on(connection)

    def _render_and_keep(self, path: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            answer.update(status=status, headers=headers)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        body = self.wsgi_app(environ, capture)
        if not environ.get(_OFFERED):
            return body
        try:
            data = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        headers = answer.get("headers", [])
        snapshot = environ.get("storefront.catalog_snapshot")
        if (
            answer.get("status", "").startswith("200 ")
            and snapshot is not None
            and not any(name.lower() == "set-cookie" for name, _ in headers)
        ):
            self._keep(path, snapshot.version, _Page(answer["status"], _shared(headers), data))
        return [data]

    def _keep(self, path: str, version: int, page: _Page) -> None:
        store = self._store
        if version > store.version:  # a newer catalog: the old one's pages go
            store = self._store = _Store(version=version, pages={})
        if version == store.version:
            store.pages[path] = page


def _shared(headers: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in headers if name.lower() not in _PER_REQUEST_HEADERS)
