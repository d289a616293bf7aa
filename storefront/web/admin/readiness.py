"""준비 상태 (/admin/readiness): every check a Toss reviewer, the law and going live need, run live, and a print view.

`reports.readiness` checks the configuration, the database and Redis. The checks that need
the site as a visitor sees it are made here through the app itself, with a test client in
a fresh context (its own app context, session and `g`, so nothing leaks into this request):

- the business-info footer on every page a guest can reach from the home page (crawled);
- the three policy pages, each with its version and 시행일;
- the reviewer account, signed in, reaching 주문 확인 (the page whose button opens Toss's
  card window) for the first subscription plan on sale. The sign-in is a real one
  (`accounts.sessions.start`), ended as soon as the check is done; the requests are GETs,
  so nothing else is recorded.
"""

from __future__ import annotations

import contextvars
import re
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from collections.abc import Iterator

from flask import Flask, current_app, render_template
from markupsafe import escape
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from storefront import jobs
from storefront.accounts import sessions
from storefront.config import Config
from storefront.extensions import db, services
from storefront.models import Plan, Product
from storefront.reports import readiness
from storefront.reports.readiness import Check
from storefront.web.admin.views import admin_required, bp
from storefront.web.legal import PRIVACY_VERSION, REFUND_VERSION, TERMS_VERSION

CRAWL_LIMIT = 40
CRAWL_START = ("/", "/terms", "/privacy", "/refund-policy", "/support", "/login", "/signup")
NOT_CRAWLED = (
    "/admin",
    "/static",
    "/media",
    "/logout",
    "/webhooks",
    "/healthz",
    "/favicon",
    "/billing",
    "/payments",
    "/account",
    "/consent",
    "/orders",
)
FOOTER_FIELDS = ("name", "representative", "registration_number", "mail_order_number", "address", "phone")
POLICIES = (
    ("/terms", "이용약관", TERMS_VERSION),
    ("/privacy", "개인정보처리방침", PRIVACY_VERSION),
    ("/refund-policy", "환불 규정", REFUND_VERSION),
)
_LINK = re.compile(r'href="(/[^"#?]*)')
CONNECT_TIMEOUT_S = 2


@dataclass(frozen=True)
class Report:
    checks: list[Check]
    at: datetime
    webhook_url: str

    def stage(self, stage: str) -> list[Check]:
        return [c for c in self.checks if c.stage == stage]

    def passed(self, stage: str) -> tuple[int, int]:
        checks = self.stage(stage)
        return sum(c.ok for c in checks), len(checks)

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)


def run_checks() -> Report:
    config: Config = current_app.config["STOREFRONT"]
    now = services().clock.now()
    session = db.session()
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # LocalProxy's; typed as Flask
    reviewer = readiness.reviewer(session, config)
    plan_id = _first_subscription_plan(session)
    static_dir = app.static_folder
    with _signed_in(session, reviewer, now) as cookie_id:
        through_app = contextvars.Context().run(_through_the_app, app, config, cookie_id, plan_id)
    connection, problem = _redis(config)
    try:
        checks = [
            readiness.business_values(config, readiness.demo_values()),
            readiness.landline(config),
            readiness.mail_order_number(config),
            through_app["footer"],
            through_app["policies"],
            readiness.product_ready(session, config, Path(static_dir)),
            readiness.no_test_data(session),
            readiness.reviewer_account(session, config),
            through_app["reviewer"],
            readiness.site_https(config),
            readiness.toss_keys(config),
            readiness.smtp(config),
            readiness.webhook(session, config, now=now),
            _safely(readiness.timer, connection, problem),
            _safely(readiness.workers, connection, problem, jobs.QUEUES),
        ]
    finally:
        if connection is not None:
            connection.close()
    return Report(checks, now, readiness.webhook_url(config))


@contextmanager
def _signed_in(session, reviewer, now: datetime) -> Iterator[str | None]:
    """A real sign-in of the reviewer for the check's requests, ended (and committed) right after."""
    if reviewer is None or not reviewer.password_hash.startswith("$argon2"):
        yield None
        return
    token = sessions.start(session, reviewer, now=now)
    session.commit()
    try:
        yield f"{reviewer.id}:{token}"
    finally:
        reviewer.session_token = token
        sessions.end(session, reviewer)
        session.commit()


def _safely(check, connection, problem, *args) -> Check:
    try:
        return check(connection, problem, *args)
    except RedisError:
        return check(None, "Redis에 연결할 수 없습니다. Redis 서버와 REDIS_URL 설정을 확인하세요.", *args)


def _redis(config: Config) -> tuple[Redis | None, str | None]:
    if not config.redis_url:
        return None, "Redis가 설정되지 않았습니다 (REDIS_URL): 작업자와 타이머가 쓸 대기열이 없습니다."
    connection = Redis.from_url(
        config.redis_url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
    )
    try:
        connection.ping()
    except RedisError:
        connection.close()
        return None, "Redis에 연결할 수 없습니다. Redis 서버와 REDIS_URL 설정을 확인하세요."
    return connection, None


def _first_subscription_plan(session) -> int | None:
    return session.scalar(
        select(Plan.id)
        .join(Product, Product.id == Plan.product_id)
        .where(Product.active.is_(True), Plan.active.is_(True), Plan.interval.in_(("month", "year")))
        .order_by(Product.position, Product.id, Plan.position, Plan.id)
        .limit(1)
    )


# -- through the app -------------------------------------------------------------------------------


def _through_the_app(app: Flask, config: Config, reviewer_id: str | None, plan_id: int | None) -> dict[str, Check]:
    """Runs in an empty contextvars.Context: every request gets its own app context and database session."""
    guest = app.test_client()
    return {
        "footer": _footer_everywhere(guest, config),
        "policies": _policy_pages(guest),
        "reviewer": _reviewer_reaches_checkout(app, reviewer_id, plan_id, config),
    }


def _footer_everywhere(client, config: Config) -> Check:
    wanted = [f'<dd data-field="{field}">{escape(getattr(config.business, field))}' for field in FOOTER_FIELDS]
    queue, missing = deque(CRAWL_START), []
    seen: set[str] = set()
    while queue and len(seen) < CRAWL_LIMIT:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        page = response.get_data(as_text=True)
        if not all(item in page for item in wanted):
            missing.append(path)
        queue.extend(link for link in _LINK.findall(page) if not link.startswith(NOT_CRAWLED) and link not in seen)
    return Check(
        "footer",
        "사업자 정보",
        readiness.REVIEW,
        "모든 페이지 하단에 사업자 정보",
        not missing and bool(seen),
        f"첫 화면에서 이어지는 {len(seen)}개 페이지를 열어 보았습니다"
        + (
            f": 사업자 정보가 빠진 페이지 {', '.join(missing[:6])}"
            if missing
            else ": 모두 상호·대표자·사업자등록번호·통신판매업 신고번호·주소·전화가 있습니다."
        ),
        "모든 화면이 templates/base.html(하단 _footer.html)을 쓰는지 확인하세요. 카드사 심사는 모든 페이지 하단의 "
        "사업자 정보를 봅니다.",
    )


def _policy_pages(client) -> Check:
    problems = []
    for path, title, version in POLICIES:
        response = client.get(path)
        page = response.get_data(as_text=True)
        if response.status_code != 200:
            problems.append(f"{title}({path}) 응답 {response.status_code}")
        elif "시행일" not in page or f"data-version>{version}<" not in page:
            problems.append(f"{title}에 시행일·버전 표시 없음")
    return Check(
        "policies",
        "정책·상품",
        readiness.REVIEW,
        "이용약관·개인정보처리방침·환불 규정 (버전·시행일)",
        not problems,
        "세 문서가 모두 열리고 시행일과 버전(" + ", ".join(v for _, _, v in POLICIES) + ")을 보여 줍니다."
        if not problems
        else "; ".join(problems),
        "templates/legal/의 문서를 실제 운영 내용으로 다듬고, 바꿀 "
        "때마다 storefront/web/legal.py의 버전(시행일)을 올리세요.",
    )


def _reviewer_reaches_checkout(app: Flask, reviewer_id: str | None, plan_id: int | None, config: Config) -> Check:
    title = "심사용 계정으로 로그인해 결제창 직전(주문 확인)까지"
    fix = (
        "심사용 계정이 있어야 하고, 판매 중인 정기구독 플랜이 하나 이상 "
        "있어야 합니다. 심사용 계정이 이미 그 상품을 구독 중이면 "
        "내 구독에서 해지해 두세요. 결제창은 TOSS_CLIENT_KEY로 열립니다."
    )
    if reviewer_id is None or plan_id is None:
        return Check(
            "reviewer_checkout",
            "심사용 계정",
            readiness.REVIEW,
            title,
            False,
            "로그인할 수 있는 심사용 계정이 없습니다."
            if reviewer_id is None
            else "판매 중인 정기구독 플랜이 없습니다.",
            fix,
        )
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = reviewer_id, True
    account = client.get("/account")
    order = client.get(f"/subscribe/{plan_id}")
    page = order.get_data(as_text=True)
    ok = (
        account.status_code == 200
        and order.status_code == 200
        and 'name="agree_terms"' in page
        and bool(config.toss_client_key)
    )
    detail = (
        f"로그인한 상태로 내 구독(응답 {account.status_code})과 "
        f"/subscribe/{plan_id} 주문 확인(응답 {order.status_code})을 "
        f"열었습니다"
        + (
            ": 동의 후 카드 등록 버튼으로 결제창이 열립니다."
            if ok
            else ": 주문 확인 화면에 동의·결제 버튼이 없습니다 (이미 구독 중이거나 로그인이 안 됩니다)."
        )
    )
    return Check("reviewer_checkout", "심사용 계정", readiness.REVIEW, title, ok, detail, fix)


# -- pages -----------------------------------------------------------------------------------------


@bp.get("/readiness")
@admin_required
def readiness_page():
    return render_template(
        "admin/readiness.html", report=run_checks(), groups=readiness.GROUPS, stages=readiness.STAGES
    )


@bp.get("/readiness/print")
@admin_required
def readiness_print():
    return render_template(
        "admin/readiness_print.html",
        report=run_checks(),
        groups=readiness.GROUPS,
        stages=readiness.STAGES,
        config_site_url=current_app.config["STOREFRONT"].site_url,
    )
