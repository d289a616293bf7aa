"""A request id for every request: the one nginx sent (X-Request-ID), else a new one.

It is on every log line the request writes (`observability.logs`, LOG_FORMAT=json), in the
access log (deploy/gunicorn.conf.py) and in the answer's X-Request-ID header, so a shopper's
"it failed at 10:02" can be followed from nginx to the app. Only short ids of letters, digits,
``.``, ``_`` and ``-`` are taken from the header; anything else is replaced.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, request

HEADER = "X-Request-ID"
_VALID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id_for(environ: dict) -> str:
    """The id nginx sent in the WSGI environ, if it is a valid one; else a new one."""
    sent = environ.get("HTTP_X_REQUEST_ID", "")
    return sent if _VALID.fullmatch(sent) else uuid.uuid4().hex


def register(app: Flask) -> None:
    @app.before_request
    def _take_request_id() -> None:
        g.request_id = request_id_for(request.environ)

    @app.after_request
    def _show_request_id(response):
        if "request_id" in g:
            response.headers[HEADER] = g.request_id
        return response
