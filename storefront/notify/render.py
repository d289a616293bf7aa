"""Turns a notice (kind + context) into its subject, text, HTML and SMS bodies.

Templates live in `templates/emails/<kind>.txt|.html` (the subject is the `subject` block of
the text template) and `templates/emails/sms/<kind>.txt`. Every template gets `user_name`,
`site_url`, `account_url` and `business` (the footer data) besides the caller's context, and
the same `won`/`kst`/`kst_date` filters as the web pages. Rendering needs no request: pass
the app's `jinja_env`, or let `default_environment()` build an equivalent one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

import jinja2

from storefront.config import ROOT, Config
from storefront.formatting import kst, kst_date, won
from storefront.notify.kinds import prepare_context

_SUBJECT_MAX = 200


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str | None


def default_environment() -> jinja2.Environment:
    """A Jinja environment like the app's (same templates, autoescaped HTML, same filters)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROOT / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    env.filters.update(won=won, kst=kst, kst_date=kst_date)
    return env


class Renderer:
    """Renders notices with one Jinja environment and the site's business details."""

    def __init__(self, jinja_env: jinja2.Environment, config: Config) -> None:
        self.env = jinja_env
        self.config = config

    def render(self, kind: str, context: Mapping[str, Any], *, user_name: str, sms: bool = False) -> Rendered:
        # The footer and links come from config, never from the caller's context.
        values = prepare_context(kind, context) | self._base_context(user_name)
        text_template = self.env.get_template(f"emails/{kind}.txt")
        subject = self._subject(text_template, values)
        values["subject"] = subject
        return Rendered(
            subject=subject,
            text=_tidy(text_template.render(values)),
            html=self.env.get_template(f"emails/{kind}.html").render(values).strip() + "\n",
            sms=_one_line(self.env.get_template(f"emails/sms/{kind}.txt").render(values)) if sms else None,
        )

    def _base_context(self, user_name: str) -> dict[str, Any]:
        site = self.config.site_url
        return {
            "user_name": user_name or "고객",
            "site_url": site,
            "account_url": f"{site}/account",
            "business": self.config.business,
        }

    def _subject(self, template: jinja2.Template, values: dict[str, Any]) -> str:
        block = template.blocks.get("subject")
        if block is None:
            raise jinja2.TemplateError(f"{template.name} has no {{% block subject %}}")
        text = _one_line("".join(block(template.new_context(values))))
        return f"[{self.config.business.name}] {text}"[:_SUBJECT_MAX]


def _tidy(text: str) -> str:
    """Drop trailing spaces and the blank runs that `{% if %}` lines leave behind."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())
