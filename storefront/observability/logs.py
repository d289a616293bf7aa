"""LOG_FORMAT=json: one JSON object per line, for a log collector; text stays the default.

Each line has ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``request_id``
(the web request's, `web.request_ids`; null elsewhere) and ``job_id`` (the RQ job's,
`jobs.JobIdFilter`; null elsewhere), plus ``exc_info`` with a traceback. Formatting is
python-json-logger's `JsonFormatter`.

Redaction is unchanged, because it happens before formatting: the access loggers' filter
(`web.security.RedactAuthKeys`), urllib3's billing-key filter (`toss.client`) and the Toss
client's own lines (which carry path templates, never keys) rewrite the record itself.

`configure_logging(config)` runs in `create_app`: in JSON mode it puts one JSON handler on the
root logger (once per process) and removes the text handlers Flask and `jobs` would add, so
the app, RQ's worker and cron, and gunicorn (`deploy/gunicorn.conf.py` uses `json_handler` in
its `logconfig_dict`) all write the same lines. In text mode it does nothing.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

HANDLER_NAME = "storefront-json"
FIELDS = ("levelname", "name", "message", "request_id", "job_id")
RENAMED = {"levelname": "level", "name": "logger"}
# gunicorn's access-log atoms worth a field of their own (the request line stays in `message`,
# where RedactAuthKeys blanks one-time keys and link tokens; a path field would escape it).
ACCESS_ATOMS = {"s": "http_status", "m": "http_method", "M": "duration_ms", "B": "response_bytes", "h": "remote"}


class ContextFilter(logging.Filter):
    """Sets ``request_id`` and ``job_id`` on every record (None outside a request / a job)."""

    def __init__(self) -> None:
        super().__init__()
        from storefront.jobs import JobIdFilter

        self._jobs = JobIdFilter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        self._jobs.filter(record)
        if getattr(record, "job_id", None) == "-":
            record.job_id = None
        return True


class AccessLogFields(logging.Filter):
    """On gunicorn's access logger: copy the request id and a few atoms into fields of the record.

    Must run before RedactAuthKeys (which replaces the atoms by the redacted line), so it is
    installed by gunicorn's logging configuration, before the app adds its filters.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args if isinstance(record.args, dict) else None
        if atoms:
            record.request_id = _dash_to_none(atoms.get("{x-request-id}i"))
            for atom, name in ACCESS_ATOMS.items():
                setattr(record, name, _dash_to_none(atoms.get(atom)))
        return True


def current_request_id() -> str | None:
    """The running web request's id (`web.request_ids` sets it), or None outside a request."""
    from flask import g, has_request_context

    return g.get("request_id") if has_request_context() else None


def _dash_to_none(value: Any) -> Any:
    return None if value in (None, "-", "") else value


def json_formatter() -> JsonFormatter:
    return JsonFormatter(list(FIELDS), rename_fields=RENAMED, timestamp="time", json_ensure_ascii=False)


def json_handler(stream: TextIO | None = None) -> logging.Handler:
    """A stream handler (stderr by default) writing one JSON object per record, with request and job ids."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(ContextFilter())
    handler.setFormatter(json_formatter())
    return handler


def configure_logging(log_format: str, stream: TextIO | None = None) -> None:
    """Install JSON logging on the root logger when `log_format` is ``json`` (idempotent); text: nothing."""
    if log_format != "json":
        return
    from flask.logging import default_handler

    root = logging.getLogger()
    if not any(h.get_name() == HANDLER_NAME for h in root.handlers):
        root.addHandler(json_handler(stream))
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    app_logger = logging.getLogger("storefront")  # Flask's app.logger, and the jobs' text handler
    app_logger.removeHandler(default_handler)
    for handler in list(app_logger.handlers):
        if handler.get_name() == "storefront-jobs":
            app_logger.removeHandler(handler)
