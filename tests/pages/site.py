"""A lived-in shop for the page checks, and every page of it each kind of visitor can reach.

`build_site` seeds the demo catalog and then uses the site as people do, against the Toss
sandbox over HTTP: a shopper subscribes (paid, trial, declined, canceled), buys the one-time
product and leaves another order unpaid; a price rise waits for consent; the admin refunds
part of a payment; a webhook arrives. `reachable_pages` then walks `app.url_map`: every GET
rule, its arguments filled from the database, as guest, shopper and admin. A new page is
covered without touching this file; a rule whose argument has no source here fails
`test_every_page_rule_is_covered`, which says what to add.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qs, urlencode, urlsplit
from dataclasses import dataclass, field
from itertools import product as cartesian
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from storefront.billing.recurring import admin_actions, checkout
from storefront.billing.compliance import consent
from storefront.extensions import db
from storefront.clock import KST
from storefront.models import (
    Attempt,
    Category,
    Order,
    Plan,
    PriceChange,
    Product,
    Reconciliation,
    Subscription,
    User,
    WebhookEvent,
)
from storefront.seed import seed_demo
from tests.conftest import Auth, csrf_token
from tests.sandbox_server import SandboxServer
from tests.web.checkout_support import Shopper, local

ROLES = ("guest", "shopper", "admin")
SHOPPER_EMAIL = "page-check@example.com"
SHOPPER_PASSWORD = "correct horse 1"
ADMIN_EMAIL = "page-admin@example.com"
ADMIN_PASSWORD = "admin password 1"
DECLINING_CARD = "4330000000000051"

# GET rules that are not pages (files, JSON) and never render HTML.
NOT_PAGES = {"static", "favicon", "health.healthz", "media.product_image"}


@dataclass
class Site:
    app: Flask
    url: str
    admin_email: str
    admin_password: str
    # Pages only reachable with a value the server handed out (an intent token, a Toss redirect).
    extra: dict[str, list[str]] = field(default_factory=lambda: {role: [] for role in ROLES})

    def credentials(self, role: str) -> tuple[str, str] | None:
        return {
            "guest": None,
            "shopper": (SHOPPER_EMAIL, SHOPPER_PASSWORD),
            "admin": (self.admin_email, self.admin_password),
        }[role]


def build_site(app: Flask, url: str, sandbox: SandboxServer, now: datetime) -> Site:
    """Seed the shop and use it (see the module docstring); returns where things are."""
    with app.app_context():
        seed_demo(db.session, now=now, cheap_hash=True, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
        site = Site(app, url, ADMIN_EMAIL, ADMIN_PASSWORD)
        _shopper_story(site, app.test_client(), sandbox)
        db.session.remove()
    # Flask-Login caches the signed-in user on the app context: each visitor needs requests of its own.
    with app.app_context():
        _admin_story(site, app.test_client(), app.test_client())
        db.session.remove()
    return site


def _plan(slug: str, interval: str, trial: bool = False) -> Plan:
    return db.session.scalars(
        select(Plan)
        .join(Product)
        .where(
            Product.slug == slug, Plan.interval == interval, (Plan.trial_days > 0) if trial else (Plan.trial_days == 0)
        )
    ).first()


def _token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _shopper_story(site: Site, client: FlaskClient, sandbox: SandboxServer) -> None:
    shopper = Shopper(client, db.session, SHOPPER_EMAIL).signup(password=SHOPPER_PASSWORD, name="김쇼핑")
    _subscriptions(site, shopper, sandbox)
    _orders(site, client, sandbox, shopper.user.customer_key)
    _checkout_pages(site, shopper)


def _subscriptions(site: Site, shopper: Shopper, sandbox: SandboxServer) -> None:
    """이용 중, 체험 중 then 해지 예정, 결제 미완료; a price rise waiting for the shopper's answer."""
    key = shopper.user.customer_key
    for plan, card in (
        (_plan("excel-master", "month"), "4330123412341234"),
        (_plan("daily-english", "month", trial=True), "4330123412341234"),
        (_plan("template-library", "year"), DECLINING_CARD),
    ):
        page = shopper.card_page(plan)
        response = shopper.come_back(shopper.toss_button(page), auth_key=sandbox.register_card(key, card))
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
    subs = shopper.subscriptions()
    trial = next(s for s in subs if s.status == "trialing")
    cancel = f"/account/subscriptions/{trial.id}/cancel"
    assert shopper.post(cancel, form_page=cancel).status_code == 302
    paid = next(s for s in subs if s.status == "active")
    consent.schedule_price_change(
        db.session,
        paid,
        new_amount_won=paid.amount_won + 1000,
        effective_on=paid.next_charge_at.date(),
        reason="plan_price",
        now=paid.created_at,
        config=site.app.config["STOREFRONT"],
    )
    db.session.commit()


def _orders(site: Site, client: FlaskClient, sandbox: SandboxServer, customer_key: str) -> None:
    """A paid one-time order; another left unpaid, whose success redirect shows the progress page."""
    once = _plan("presentation-pack", "once")
    for pay in (True, False):
        response = client.post(
            f"/buy/{once.id}", data={"csrf_token": csrf_token(client, f"/buy/{once.id}"), "agree": "y"}
        )
        order_id = re.fullmatch(r"/orders/([^/]+)/pay", response.headers["Location"]).group(1)
        if not pay:  # its script, which would send the form, is blocked in the browser checks
            query = {
                "paymentType": "NORMAL",
                "orderId": order_id,
                "paymentKey": "page-check-key",
                "amount": str(once.amount_won),
            }
            site.extra["shopper"].append("/payments/success?" + urlencode(query))
            continue
        url = "/payments/success?" + urlencode(
            sandbox.pay(order_id=order_id, amount=once.amount_won, customer_key=customer_key)
        )
        assert client.post(url, data={"csrf_token": _token(client.get(url).get_data(as_text=True))}).status_code == 200


def _checkout_pages(site: Site, shopper: Shopper) -> None:
    """The fallback card page (an unused intent), the progress page of Toss's success redirect (its script
    blocked in the browser checks), the page a reload shows while another request settles, the fail pages."""
    key = shopper.user.customer_key
    plan = _plan("template-library", "month")
    card_url = local(shopper.consent(plan).headers["Location"])
    back = {"customerKey": key, "authKey": "page-check-auth-key"}
    site.extra["shopper"] += [card_url, card_url.replace("/billing/card?", "/billing/success?") + "&" + urlencode(back)]
    claimed = local(shopper.consent(plan).headers["Location"])
    token = parse_qs(urlsplit(claimed).query)["intent"][0]
    checkout.claim_intent(
        db.session,
        user=shopper.user,
        token=token,
        customer_key=key,
        auth_key="page-check-2",
        now=site.app.extensions["storefront"].clock.now(),
    )
    site.extra["shopper"].append(f"/billing/success?intent={token}&" + urlencode({**back, "authKey": "page-check-2"}))
    site.extra["shopper"] += [
        "/billing/fail?code=PAY_PROCESS_CANCELED&message=%EC%B7%A8%EC%86%8C",
        "/billing/fail?code=INVALID_CARD_NUMBER&message=card",
        "/payments/fail?code=PAY_PROCESS_CANCELED&message=cancel",
    ]
    site.extra["guest"] += ["/payments/fail?code=REJECT_CARD_COMPANY&message=x"]


def _admin_story(site: Site, admin: FlaskClient, toss: FlaskClient) -> None:
    assert Auth(admin).login(site.admin_email, site.admin_password).status_code == 302
    attempt = db.session.scalars(select(Attempt).where(Attempt.status == "done").order_by(Attempt.id)).first()
    page = admin.get(f"/admin/attempts/{attempt.id}/refund").get_data(as_text=True)
    form = dict(re.findall(r'name="(csrf_token|request_id|amount_won)"[^>]*value="([^"]*)"', page))
    admin.post(
        f"/admin/attempts/{attempt.id}/refund", data={**form, "amount_won": "1000", "reason": "부분 환불 테스트"}
    )
    # today's 대사 against the sandbox (the day page and its CSV)
    today = site.app.extensions["storefront"].clock.now().astimezone(KST).date().isoformat()
    admin.post(
        "/admin/reconciliation/run",
        data={"csrf_token": _token(admin.get("/admin/reconciliation").get_data(as_text=True)), "day": today},
    )
    body = Path(__file__).resolve().parent.parent / "fixtures" / "toss" / "webhook.payment-status-changed.json"
    toss.post(
        "/webhooks/toss",
        data=body.read_bytes(),
        content_type="application/json",
        headers={"tosspayments-webhook-transmission-id": "page-check-1"},
    )


# -- enumerating pages -----------------------------------------------------------------------------


def argument_values(session) -> dict[str, list[str]]:
    """Values to try for each URL argument name, from the database (newest first where it matters)."""

    def ids(model, column=None) -> list[str]:
        column = column if column is not None else model.id
        return [str(v) for v in session.scalars(select(column).order_by(model.id.desc()))]

    return {
        "plan_id": ids(Plan),
        "slug": ids(Product, Product.slug) + ids(Category, Category.slug),
        "subscription_id": ids(Subscription),
        "order_id": ids(Order, Order.order_id),
        "attempt_id": ids(Attempt),
        "product_id": ids(Product),
        "token": ids(PriceChange, PriceChange.token),
        "event_id": ids(WebhookEvent),
        "user_id": ids(User),
        "day": [day.isoformat() for day in session.scalars(select(Reconciliation.day).order_by(Reconciliation.day))],
        "name": list(admin_actions.ACTIONS),  # /admin/subscriptions/<id>/actions/<name>
    }


@dataclass(frozen=True)
class Reached:
    rule: str
    path: str  # what was asked
    final: str  # where the redirects ended
    status: int
    html: str


def reachable_pages(app: Flask, client: FlaskClient, extra: list[str]) -> tuple[list[Reached], list[str]]:
    """Every page `client` (signed in or not) reaches from the GET rules; and rules no value could fill."""
    with app.app_context():
        values = argument_values(db.session)
    pages: dict[str, Reached] = {}
    unfilled: list[str] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
            continue
        candidates = _candidates(rule.rule, sorted(rule.arguments), values)
        if candidates is None:
            unfilled.append(rule.rule)
            continue
        reached = _first_page(client, rule.rule, candidates)
        if reached is not None:
            pages.setdefault(reached.final, reached)
    for path in extra:
        reached = _first_page(client, path, [path])
        if reached is not None:
            pages.setdefault(reached.final, reached)
    return list(pages.values()), unfilled


def _candidates(rule: str, arguments: list[str], values: dict[str, list[str]]) -> list[str] | None:
    if not arguments:
        return [rule]
    if any(not values.get(name) for name in arguments):
        return None
    paths = []
    for combo in cartesian(*(values[name] for name in arguments)):
        path = rule
        for name, value in zip(arguments, combo, strict=True):
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", value, path)
        paths.append(path)
    return paths


def _first_page(client: FlaskClient, rule: str, candidates: list[str]) -> Reached | None:
    """The first candidate that ends in a 200 HTML page; else the first HTML answer (an error page)."""
    fallback = None
    for path in candidates:
        response = client.get(path, follow_redirects=True)
        if response.mimetype != "text/html":
            continue
        final = response.request.path + (
            f"?{response.request.query_string.decode()}" if response.request.query_string else ""
        )
        reached = Reached(rule, path, final, response.status_code, response.get_data(as_text=True))
        if response.status_code == 200:
            return reached
        fallback = fallback or reached
    return fallback


def signed_in_client(app: Flask, site: Site, role: str) -> FlaskClient:
    client = app.test_client()
    credentials = site.credentials(role)
    if credentials is not None:
        assert Auth(client).login(*credentials).status_code == 302
    return client
