"""`python -m storefront.toss.sandbox --host 127.0.0.1 --port 5055 [--db PATH]`.

Settings come from `SANDBOX_*` variables (see settings.py and the README); `.env` is read
first, as the Flask CLI does for the store, so one file configures both processes.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from werkzeug.serving import WSGIRequestHandler, run_simple

BILLING_PATH = re.compile(r"(/v1/billing/)(?!authorizations/)[^ /?]+")


class RedactingRequestHandler(WSGIRequestHandler):
    """The request log without billing keys: they are as secret here as at Toss."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.requestline = BILLING_PATH.sub(r"\1[billingKey]", self.requestline)
        super().log_request(code, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storefront.toss.sandbox",
                                     description="Offline Toss Payments sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--db", help="SQLite state file (default instance/sandbox.db or SANDBOX_DB)")
    args = parser.parse_args(argv)

    from dotenv import load_dotenv

    from . import SandboxSettings, SettingsError, create_sandbox_app

    load_dotenv()
    overrides = {"db_path": args.db} if args.db else {}
    try:
        settings = SandboxSettings.from_env(os.environ, **overrides)
    except SettingsError as exc:
        print(f"sandbox: configuration error: {exc}", file=sys.stderr)
        return 2
    app = create_sandbox_app(settings)
    print(f"Toss sandbox on http://{args.host}:{args.port} (state: {settings.db_path})", flush=True)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False,
               request_handler=RedactingRequestHandler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
