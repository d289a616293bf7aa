"""An offline stand-in for Toss Payments: its own Flask app, SQLite file and card window.

`create_sandbox_app()` serves Toss's core API for what the store uses (billing keys and
charges, payment confirm/lookup/cancel; toss-api.md §2–§4), a stub of the JS SDK v2 at
`/v2/standard` with a card window, test cards with chosen declines, webhooks with Toss's
retry schedule, and `/_sandbox/*` control endpoints (ledger, settings, faults, clock).
It shares no code with the store (it has its own small clock and default keys; a test
checks that nothing here imports `storefront.*` outside this package): the store talks to
it over HTTP exactly as it talks to Toss, so switching TOSS_ENV from `sandbox` to `test`
changes only the base URL and the keys. Run it with
`python -m storefront.toss.sandbox`.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from . import api, control, window
from .clock import Clock, SystemClock
from .errors import ApiError
from .pipeline import TRACE_HEADER, error_response, new_trace_id
from .runtime import SandboxRuntime
from .settings import SandboxSettings, SettingsError
from .webhooks import WebhookDispatcher

__all__ = ["SandboxSettings", "SettingsError", "create_sandbox_app", "close_sandbox_app"]

HERE = Path(__file__).resolve().parent

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


def create_sandbox_app(settings: SandboxSettings | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the sandbox app and start its webhook thread (stop it with `close_sandbox_app`)."""
    settings = settings or SandboxSettings()
    app = Flask(
        __name__,
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
        static_url_path="/_sandbox/static",
    )
    json_provider = app.json
    assert isinstance(json_provider, DefaultJSONProvider)  # Flask's own, which has the switch
    json_provider.ensure_ascii = False
    runtime = SandboxRuntime(settings, clock or SystemClock())
    runtime.webhooks = WebhookDispatcher(runtime.store, runtime.clock, lambda: runtime.settings)
    app.extensions["toss_sandbox"] = runtime
    app.register_blueprint(api.bp)
    app.register_blueprint(window.bp)
    app.register_blueprint(control.bp)
    _register_errors(app)
    # Browsers ask for /favicon.ico whatever a page links (a JSON answer opened in a tab, say).
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("favicon.svg"))
    app.after_request(_headers)
    runtime.webhooks.start()
    return app


def close_sandbox_app(app: Flask) -> None:
    """Stop the webhook thread and wake any request waiting on latency or a timeout fault."""
    app.extensions["toss_sandbox"].close()


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if _is_api():
        response.headers.setdefault(TRACE_HEADER, new_trace_id())
    return response


def _is_api() -> bool:
    return request.path.startswith("/v1/")


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return error_response(error)

    @app.errorhandler(404)
    @app.errorhandler(405)
    def not_served(error: HTTPException) -> Response | HTTPException:
        """Toss answers JSON on every API path (D-REQRES); pages keep werkzeug's HTML."""
        if not _is_api():
            return error
        response = error_response(ApiError("NOT_FOUND" if error.code == 404 else "METHOD_NOT_ALLOWED"))
        if isinstance(error, MethodNotAllowed):
            response.headers["Allow"] = ", ".join(error.valid_methods or ())
        return response

    @app.errorhandler(500)
    def internal(error: Exception) -> Response:  # Flask has already logged the traceback
        return error_response(ApiError("FAILED_INTERNAL_SYSTEM_PROCESSING"))
