"""The storefront application factory."""

from __future__ import annotations

import os
import sys
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from storefront.config import ROOT, Config, ConfigError, load_config


def create_app(config: Config | None = None, *, clock: Any = None, toss: Any = None) -> Flask:
    """Build the app. Without `config`, settings come from the environment (and `.env`).

    A bad setting stops the process with one line naming the variable.
    """
    if config is None:
        config = _config_from_environment()
    from storefront.observability import errors, logs

    logs.configure_logging(config.log_format)  # before anything logs: JSON lines when LOG_FORMAT=json
    errors.init_error_reporting(config)  # Sentry when SENTRY_DSN is set
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    _configure_flask(app, config)
    from storefront import cli, web
    from storefront.services import build_services

    _init_extensions(app, config)
    web.register(app)
    cli.register(app)
    app.extensions["storefront"] = build_services(config, clock=clock, toss=toss, jinja_env=app.jinja_env)
    return app


def _config_from_environment() -> Config:
    try:
        return load_config(os.environ)
    except ConfigError as exc:
        # One clear line, no traceback: this is an operator's mistake, not a bug.
        sys.stderr.write(f"storefront: configuration error: {exc}\n")
        raise SystemExit(2) from None


def _configure_flask(app: Flask, config: Config) -> None:
    app.config.update(
        STOREFRONT=config,
        SECRET_KEY=config.secret_key,
        SQLALCHEMY_DATABASE_URI=config.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(config.database_url),
        TESTING=config.testing,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not (config.development or config.testing),
        REMEMBER_COOKIE_SECURE=not (config.development or config.testing),
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=3600 * 4,
        MAX_CONTENT_LENGTH=1024 * 1024,
        RATELIMIT_STORAGE_URI=config.redis_url or "memory://",
        RATELIMIT_STRATEGY="moving-window",
        # Redis down: count in this process's memory instead of answering 500 (logins, webhooks).
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
    )
    os.makedirs(app.instance_path, exist_ok=True)
    from storefront.web.converters import BoundedIntConverter

    # Before any route is added: an id no row can have is a 404, not a database error.
    app.url_map.converters["int"] = BoundedIntConverter
    hops = config.trusted_proxy_hops
    if hops:
        # That many reverse proxies (nginx, a load balancer) append to X-Forwarded-*; see web/client_ip.py.
        # Flask's documented way to wrap its WSGI app; mypy sees a method being replaced.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def _engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        # Wait for a writer instead of failing at once when workers and web share the file.
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


def _init_extensions(app: Flask, config: Config) -> None:
    from storefront.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "로그인이 필요한 페이지입니다."
    login_manager.login_message_category = "info"

    from storefront import models  # noqa: F401  (register the tables)

    from storefront.web.auth.signin import load_user

    # A cookie opens an account only while its server-side sign-in exists (storefront/accounts/sessions.py).
    login_manager.user_loader(load_user)

    if config.database_url.startswith("sqlite"):
        _sqlite_pragmas(app)


def _sqlite_pragmas(app: Flask) -> None:
    from sqlalchemy import event

    from storefront.extensions import db

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
