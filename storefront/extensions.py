"""Flask extensions, created unbound and bound in `create_app`, plus the services seam.

`services()` returns the app's frozen `Services` (clock, Toss client, vault, notifier), built
once by `create_app` from config or from the overrides a test passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from storefront.web.client_ip import client_ip  # noqa: F401  (views import it from here too)


class Base(DeclarativeBase):
    # Named constraints, so Alembic can alter them on every backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)

# The base class of every model. mypy cannot read an attribute (`db.Model`) as a base class
# (python/mypy#8603), so it is named here. At run time it is `db.Model`: Flask-SQLAlchemy's copy of
# `Base` (same metadata and naming convention) with its `Model` mixin added (`query`, a short repr);
# the class mypy sees has exactly those parents.
if TYPE_CHECKING:
    from flask_sqlalchemy.model import Model as _FlaskModel

    class Model(_FlaskModel, Base):
        pass
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=client_ip, default_limits=[], headers_enabled=False)


@dataclass(frozen=True)
class Services:
    """Collaborators that views and jobs pass into `billing/`."""

    clock: Any
    toss: Any
    vault: Any
    notifier: Any = None  # storefront.notify.Notifier: queue notices, deliver the outbox


def services() -> Services:
    return current_app.extensions["storefront"]
