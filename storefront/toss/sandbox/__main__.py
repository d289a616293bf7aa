"""`python -m storefront.toss.sandbox --host 127.0.0.1 --port 5055 [--db PATH]`.

Settings come from `SANDBOX_*` variables (see settings.py and docs/sandbox.md); `.env` is read
first, as the Flask CLI does for the store, so one file configures both processes.
`--port 0` picks a free port; the first line printed names the URL.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

BILLING_PATH = re.compile(r"(/v1/billing/)(?!authorizations/)[^ /?]+")


class RedactingRequestHandler(WSGIRequestHandler):
    """The request log without billing keys: they are as secret here as at Toss."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # werkzeug 3 builds the line from `path` (and from `requestline` when the line was bad).
        if hasattr(self, "path"):
            self.path = BILLING_PATH.sub(r"\1[billingKey]", self.path)
        self.requestline = BILLING_PATH.sub(r"\1[billingKey]", self.requestline)
        super().log_request(code, size)


class QuietRequestHandler(RedactingRequestHandler):
    """No line per request (errors are still logged): for benchmarks, where the log is a share of the CPU."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m storefront.toss.sandbox", description="Offline Toss Payments sandbox"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--db", help="SQLite state file (default instance/sandbox.db or SANDBOX_DB)")
    parser.add_argument(
        "--only-if-sandbox",
        action="store_true",
        help="idle instead of serving unless TOSS_ENV is sandbox (for the Procfile)",
    )
    parser.add_argument("--quiet", action="store_true", help="no access log line per request (benchmarks)")
    args = parser.parse_args(argv)

    from dotenv import load_dotenv

    from . import SandboxSettings, SettingsError, close_sandbox_app, create_sandbox_app

    load_dotenv()
    toss_env = os.environ.get("TOSS_ENV") or "sandbox"
    if args.only_if_sandbox and toss_env != "sandbox":
        # Idle rather than exit: honcho stops every process when one of them ends.
        print(f"Toss sandbox not started: TOSS_ENV={toss_env} talks to Toss itself", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
        return 0
    overrides = {"db_path": args.db} if args.db else {}
    try:
        settings = SandboxSettings.from_env(os.environ, **overrides)
    except SettingsError as exc:
        print(f"sandbox: configuration error: {exc}", file=sys.stderr)
        return 2
    app = create_sandbox_app(settings)
    handler = QuietRequestHandler if args.quiet else RedactingRequestHandler
    server = make_server(args.host, args.port, app, threaded=True, request_handler=handler)
    print(
        f"Toss sandbox on http://{args.host}:{server.server_port} (state: {settings.db_path}, "
        f"webhooks: {settings.webhook_url or 'off'})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        close_sandbox_app(app)
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
