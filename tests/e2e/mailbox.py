"""What a shopper would find in their mailbox, read from the store's outbox (no SMTP needed)."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from storefront.extensions import db
from storefront.models import EmailMessage


def signup_link(app: Flask, email: str) -> str:
    """The path of the newest 가입 확인 link sent to `email`."""
    with app.app_context():
        body = db.session.scalars(
            select(EmailMessage.body_text)
            .where(EmailMessage.to == email.lower(), EmailMessage.kind == "signup_confirm")
            .order_by(EmailMessage.id.desc())
        ).first()
        db.session.remove()
    assert body, f"no sign-up link was sent to {email}"
    return re.search(r"https?://[^/\s]+(/signup/confirm/[\w-]+)", body).group(1)
