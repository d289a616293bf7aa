"""준비 상태: the checks a Toss reviewer, the law and going live need, each green or red with what to fix.

Each check is a function of the configuration, the database and (for the timer and the
workers) Redis, returning a `Check`. The checks that need the running site itself (the
footer on every page, the policy pages, the reviewer reaching the checkout) are made by
the admin's page through the app (storefront.web.admin.readiness) and use `Check` too.

Liveness of the timer and the workers is RQ's own: a `flask cron` process stays in RQ's
registry for 2 minutes after its last heartbeat, a worker for about 8 minutes (its TTL),
so being listed means being alive; the times shown are RQ's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storefront import media
from storefront.config import ROOT, Config
from storefront.models import Category, Product, User, WebhookEvent

REVIEW, LIVE = "review", "live"
STAGES = {REVIEW: "토스페이먼츠 심사", LIVE: "라이브 전환"}
GROUPS = ("사업자 정보", "정책·상품", "심사용 계정", "결제·운영")
BUSINESS_VARS = {
    "BUSINESS_NAME": "name",
    "BUSINESS_REPRESENTATIVE": "representative",
    "BUSINESS_REGISTRATION_NUMBER": "registration_number",
    "BUSINESS_MAIL_ORDER_NUMBER": "mail_order_number",
    "BUSINESS_MAIL_ORDER_OFFICE": "mail_order_office",
    "BUSINESS_ADDRESS": "address",
    "BUSINESS_PHONE": "phone",
    "BUSINESS_EMAIL": "email",
    "BUSINESS_HOSTING_PROVIDER": "hosting_provider",
    "BUSINESS_PRIVACY_OFFICER": "privacy_officer",
}
# 02-123-4567, 031-1234-5678, 070-1234-5678 (internet phone) or a 15xx/16xx/18xx 대표번호; never 010.
LANDLINE = re.compile(r"^(?:02-\d{3,4}-\d{4}|0(?:[3-6][1-5]|70)-\d{3,4}-\d{4}|1[5-9]\d{2}-\d{4})$")
# 제2026-서울강남-01234호: year, the office (region and district, in Korean), the serial number.
MAIL_ORDER_NUMBER = re.compile(r"^제\s?\d{4}-[가-힣]{2,12}-\d{3,6}\s?호$")
TEST_WORDS = re.compile(r"test|테스트|샘플|sample|dummy|더미", re.IGNORECASE)
MIN_PRICE_WON = 100
WEBHOOK_RECENT = timedelta(days=30)


@dataclass(frozen=True)
class Check:
    key: str
    group: str
    stage: str  # review | live
    title: str
    ok: bool
    detail: str  # what was found
    fix: str = ""  # what to do when it is red


def demo_values(path: Path = ROOT / ".env.example") -> dict[str, str]:
    """The example BUSINESS_* values `make run` starts with (they must all be replaced)."""
    from dotenv import dotenv_values

    return {k: (v or "").strip() for k, v in dotenv_values(path).items() if k in BUSINESS_VARS and v}


# -- 사업자 정보 ------------------------------------------------------------------------------------


def business_values(config: Config, demo: Mapping[str, str]) -> Check:
    left = [var for var, attr in BUSINESS_VARS.items() if demo.get(var) and getattr(config.business, attr) == demo[var]]
    return Check(
        "business_values",
        "사업자 정보",
        REVIEW,
        "사업자 정보가 예시 값이 아님",
        not left,
        "모든 BUSINESS_* 값이 .env.example의 예시와 다릅니다."
        if not left
        else f".env.example 예시 값 그대로인 항목: {', '.join(left)}",
        "사업자등록증·통신판매업 신고증과 똑같이 .env(또는 서버 환경 변수)의 BUSINESS_* 값을 고친 뒤 다시 시작하세요.",
    )


def landline(config: Config) -> Check:
    phone = config.business.phone
    ok = bool(LANDLINE.match(phone))
    return Check(
        "landline",
        "사업자 정보",
        REVIEW,
        "대표 전화가 유선 번호",
        ok,
        f"BUSINESS_PHONE = {phone}",
        "카드사는 휴대전화 번호를 받지 않습니다. 02-123-4567, 070-1234-5678, 1588-1234처럼 "
        "지역번호·인터넷전화·대표번호 형식으로 적으세요.",
    )


def mail_order_number(config: Config) -> Check:
    number = config.business.mail_order_number
    return Check(
        "mail_order_number",
        "사업자 정보",
        REVIEW,
        "통신판매업 신고번호 형식",
        bool(MAIL_ORDER_NUMBER.match(number)),
        f"BUSINESS_MAIL_ORDER_NUMBER = {number}",
        "신고증에 적힌 그대로 ‘제2026-서울강남-01234호’ 형식으로 "
        "적으세요. 신고 전이면 관할 시·군·구청에 먼저 신고하세요.",
    )


# -- 정책·상품 --------------------------------------------------------------------------------------


def _on_sale(session: Session) -> list[Product]:
    return list(session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.position, Product.id)))


def product_ready(session: Session, config: Config, static_dir: Path) -> Check:
    """At least one product on sale with an image that exists, a price, and 제공 방법·기간."""
    ready, missing = [], []
    for product in _on_sale(session):
        priced = [p for p in product.plans if p.active and p.amount_won >= MIN_PRICE_WON]
        lacks = [
            what
            for what, ok in (
                ("이미지", media.image_exists(product.image, config.product_image_dir, static_dir)),
                ("가격", bool(priced)),
                ("제공 방법·기간", bool(product.provision.strip())),
            )
            if not ok
        ]
        if lacks:
            missing.append(f"{product.name}({', '.join(lacks)} 없음)")
        else:
            ready.append(product.name)
    detail = (
        f"심사에 보여 줄 수 있는 상품 {len(ready)}개: {', '.join(ready[:5])}"
        if ready
        else "이미지·가격·제공 기간을 모두 갖춘 판매 중 상품이 없습니다."
    )
    if missing:
        detail += f" / 보완 필요: {', '.join(missing[:5])}"
    return Check(
        "product_ready",
        "정책·상품",
        REVIEW,
        "이미지·가격·제공 기간을 갖춘 상품",
        bool(ready),
        detail,
        "관리자 → 상품·플랜에서 상품 이미지를 올리고, 가격이 있는 "
        "플랜과 ‘제공 방법 및 기간’을 채운 뒤 판매 중으로 두세요.",
    )


def no_test_data(session: Session) -> Check:
    """Nothing on sale that looks like test data: TEST/테스트/샘플 in a name or address, or a price under 100원."""
    found = []
    for category in session.scalars(select(Category)):
        if TEST_WORDS.search(f"{category.name} {category.slug}") and any(p.active for p in category.products):
            found.append(f"카테고리 ‘{category.name}’")
    for product in _on_sale(session):
        if TEST_WORDS.search(f"{product.name} {product.slug} {product.summary}"):
            found.append(f"상품 ‘{product.name}’")
        for plan in product.plans:
            if plan.active and (TEST_WORDS.search(plan.name) or plan.amount_won < MIN_PRICE_WON):
                found.append(f"플랜 ‘{product.name} · {plan.name}’ ({plan.amount_won:,}원)")
    return Check(
        "no_test_data",
        "정책·상품",
        REVIEW,
        "테스트처럼 보이는 상품·플랜 없음",
        not found,
        "판매 중인 상품·플랜에 TEST, 테스트, 0원 같은 흔적이 없습니다."
        if not found
        else "보이는 항목: " + ", ".join(found[:8]),
        "카드사 심사는 테스트용 상품을 거절합니다. 이름을 실제 상품명으로 "
        "바꾸거나 판매를 중지하고, 100원 미만 플랜은 가격을 고치세요.",
    )


# -- 심사용 계정 ------------------------------------------------------------------------------------


def reviewer(session: Session, config: Config) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == config.reviewer_email.lower()))


def reviewer_account(session: Session, config: Config) -> Check:
    user = reviewer(session, config)
    fix = (
        "‘flask seed demo’로 심사용 계정을 만들고(SEED_REVIEWER_EMAIL로 "
        "주소 지정), 출력된 비밀번호를 토스페이먼츠 심사 신청서에 "
        "적으세요. 관리자 계정을 심사용으로 주지 마세요."
    )
    if user is None:
        return Check(
            "reviewer_account",
            "심사용 계정",
            REVIEW,
            "심사용 계정이 있고 관리자가 아님",
            False,
            f"{config.reviewer_email} 계정이 없습니다.",
            fix,
        )
    usable = user.password_hash.startswith("$argon2")
    problems = [
        text
        for text, bad in (
            ("관리자 계정입니다", user.is_admin),
            ("로그인할 수 없는(탈퇴 처리된) 계정입니다", not usable),
        )
        if bad
    ]
    return Check(
        "reviewer_account",
        "심사용 계정",
        REVIEW,
        "심사용 계정이 있고 관리자가 아님",
        not problems,
        f"{user.email} (회원 #{user.id})" + (": " + ", ".join(problems) if problems else ", 일반 회원"),
        fix,
    )


# -- 결제·운영 --------------------------------------------------------------------------------------


def toss_keys(config: Config) -> Check:
    if config.toss_env == "live":
        return Check(
            "toss_keys",
            "결제·운영",
            LIVE,
            "라이브 키 (TOSS_ENV와 키가 일치)",
            True,
            "TOSS_ENV=live, 라이브 키(live_ck_/live_sk_)를 씁니다.",
        )
    detail = (
        "TOSS_ENV=sandbox: 오프라인 샌드박스입니다. 실제 토스페이먼츠와 연결되지 않습니다."
        if config.toss_env == "sandbox"
        else "TOSS_ENV=test: 테스트 키(test_ck_/test_sk_)입니다. 심사에는 충분하지만 실제 결제는 되지 않습니다."
    )
    return Check(
        "toss_keys",
        "결제·운영",
        LIVE,
        "라이브 키 (TOSS_ENV와 키가 일치)",
        False,
        detail,
        "심사 중에는 개발자센터의 테스트 키로 TOSS_ENV=test, 심사를 통과하면 라이브 키로 TOSS_ENV=live와 "
        "TOSS_CLIENT_KEY/TOSS_SECRET_KEY를 바꾸고 다시 "
        "시작하세요. 키 접두사가 TOSS_ENV와 다르면 앱이 시작되지 않습니다.",
    )


def _public_https(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and parts.hostname not in (None, "localhost", "127.0.0.1", "::1")


def site_https(config: Config) -> Check:
    return Check(
        "site_https",
        "결제·운영",
        REVIEW,
        "SITE_URL이 https 주소",
        _public_https(config.site_url),
        f"SITE_URL = {config.site_url}",
        "심사 담당자와 고객이 여는 실제 도메인을 https로 적으세요(예: https://shop.example.co.kr). "
        "결제 후 돌아오는 주소와 메일 속 링크가 이 값으로 만들어집니다.",
    )


def smtp(config: Config) -> Check:
    return Check(
        "smtp",
        "결제·운영",
        LIVE,
        "메일 발송(SMTP) 설정",
        bool(config.smtp_url),
        "SMTP_URL이 설정되어 있습니다."
        if config.smtp_url
        else "SMTP_URL이 없어 영수증·결제 실패·동의 요청 메일이 발송함에만 쌓입니다.",
        "메일 발송 서비스의 SMTP 주소를 SMTP_URL=smtp://사용자:비밀번호@호스트:587 형식으로 넣으세요.",
    )


def webhook_url(config: Config) -> str:
    return f"{config.site_url}/webhooks/toss"


def webhook(session: Session, config: Config, *, now: datetime) -> Check:
    last = session.scalar(select(func.max(WebhookEvent.received_at)))
    recent = last is not None and last >= now - WEBHOOK_RECENT
    url = webhook_url(config)
    detail = f"등록할 주소: {url} · " + (f"마지막 수신 {last:%Y-%m-%d %H:%M} UTC" if last else "받은 웹훅이 없습니다")
    return Check(
        "webhook",
        "결제·운영",
        LIVE,
        "토스페이먼츠 웹훅 등록·수신",
        recent and _public_https(config.site_url),
        detail,
        f"토스페이먼츠 개발자센터 → 웹훅에 {url} 을(를) PAYMENT_STATUS_CHANGED, BILLING_DELETED 이벤트로 "
        "등록하고 ‘테스트 웹훅 보내기’로 수신을 확인하세요 (최근 30일 안에 받은 기록이 있어야 통과).",
    )


def timer(connection, problem: str | None) -> Check:
    """A `flask cron` registered in Redis (alive by RQ's TTL) that runs the due sweep; its last sweep shown."""
    fix = (
        "서버에서 ‘flask cron’ 프로세스(Procfile의 cron)를 하나 실행하세요. "
        "REDIS_URL이 웹·작업자·타이머에서 같아야 합니다."
    )
    if connection is None:
        return Check(
            "timer", "결제·운영", LIVE, "타이머(정기결제 예약) 실행 중", False, problem or "Redis가 없습니다.", fix
        )
    from rq.cron import CronScheduler

    schedulers = CronScheduler.all(connection, cleanup=False)
    sweeps = [
        (s.name, job.latest_enqueue_time)
        for s in schedulers
        for job in s.get_jobs()
        if job.func_name.endswith("sweep_due_job")
    ]
    if not sweeps:
        detail = (
            "실행 중인 타이머가 없습니다 (마지막 신호 후 2분이 지나면 목록에서 빠집니다)."
            if not schedulers
            else "타이머는 있지만 정기결제 예약(sweep_due_job)이 등록되어 있지 않습니다."
        )
        return Check("timer", "결제·운영", LIVE, "타이머(정기결제 예약) 실행 중", False, detail, fix)
    name, last = sweeps[0]
    return Check(
        "timer",
        "결제·운영",
        LIVE,
        "타이머(정기결제 예약) 실행 중",
        True,
        f"타이머 {name} · 마지막 예약 실행 " + (f"{last:%Y-%m-%d %H:%M} UTC" if last else "아직 없음(방금 시작)"),
        fix,
    )


def workers(connection, problem: str | None, queues: Iterable[str]) -> Check:
    """RQ workers registered in Redis (alive by RQ's TTL) that together listen to every queue."""
    queues = tuple(queues)
    fix = "서버에서 ‘flask worker’ 프로세스를 실행하세요 (모든 대기열을 듣도록: " + ", ".join(queues) + ")."
    if connection is None:
        return Check("workers", "결제·운영", LIVE, "작업자 실행 중", False, problem or "Redis가 없습니다.", fix)
    from rq import Worker

    found = Worker.all(connection=connection)
    listening = {name for worker in found for name in worker.queue_names()}
    missing = [q for q in queues if q not in listening]
    seen = ", ".join(f"{w.name}({w.last_heartbeat:%H:%M} UTC)" if w.last_heartbeat else w.name for w in found[:5])
    if not found:
        return Check("workers", "결제·운영", LIVE, "작업자 실행 중", False, "최근 신호를 보낸 작업자가 없습니다.", fix)
    return Check(
        "workers",
        "결제·운영",
        LIVE,
        "작업자 실행 중",
        not missing,
        f"작업자 {len(found)}개: {seen}" + (f" · 듣는 작업자가 없는 대기열: {', '.join(missing)}" if missing else ""),
        fix,
    )


__all__ = [
    "Check",
    "GROUPS",
    "LIVE",
    "REVIEW",
    "STAGES",
    "business_values",
    "demo_values",
    "landline",
    "mail_order_number",
    "no_test_data",
    "product_ready",
    "reviewer",
    "reviewer_account",
    "site_https",
    "smtp",
    "timer",
    "toss_keys",
    "webhook",
    "webhook_url",
    "workers",
]
