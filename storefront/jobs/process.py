"""The worker process's app: built once per process (or adopted), warmed up before forking.

`_app()` is the one place a worker builds the app: lazily, once per process, from the
environment — `.env` in the repository root is loaded first (values already in the
environment win), so an `rq worker` started by hand sees the same settings as `flask run`.
Tests point it elsewhere by setting the environment (DATABASE_URL, SMTP_URL, ...) before the
job runs, or hand it an app with `adopt_app`. Every job opens its app context with it.
"""

from __future__ import annotations

import os

from flask import Flask

from storefront.config import ROOT, Config
from storefront.extensions import db, services
from storefront.jobs.logs import install_job_logging

_built: tuple[int, Flask] | None = None  # (pid that owns the DB pool, app)


def _app() -> Flask:
    """The worker's app, built on first use in this process from the environment (+ .env).

    After a fork (a forking `rq worker` whose parent built the app) the pooled database
    connections belong to the parent; the child drops them from its pool without closing
    them, as SQLAlchemy recommends, and opens its own.
    """
    global _built
    pid = os.getpid()
    if _built is None:
        from dotenv import load_dotenv

        from storefront import create_app

        load_dotenv(ROOT / ".env", override=False)
        install_job_logging()
        _built = (pid, create_app())
    elif _built[0] != pid:
        app = _built[1]
        with app.app_context():
            db.engine.dispose(close=False)
        _built = (pid, app)
    return _built[1]


def adopt_app(app: Flask) -> None:
    """Use `app` as this process's worker app (`flask worker` hands over the CLI's app; tests their own)."""
    global _built
    _built = (os.getpid(), app)


def warm_up(app: Flask) -> None:
    """Do once, in a forking worker's parent, the set-up every job process would otherwise repeat.

    A forking worker runs each job in a fresh child process; whatever the parent has loaded
    the child inherits. Configuring the ORM mappers, importing the billing code and compiling
    the email templates here roughly halves a charge job's own time.
    """
    from sqlalchemy.orm import configure_mappers

    import storefront.audit  # noqa: F401
    import storefront.billing.recurring.charging  # noqa: F401
    import storefront.billing.refunding.refunds  # noqa: F401

    configure_mappers()
    with app.app_context():
        notifier = services().notifier
        env = getattr(getattr(notifier, "renderer", None), "env", None)
        if env is not None:
            for name in env.list_templates(filter_func=lambda n: n.startswith("emails/")):
                env.get_template(name)


def _config() -> Config:
    from flask import current_app

    return current_app.config["STOREFRONT"]
