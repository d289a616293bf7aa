"""Demo data: a believable Korean subscription shop, an admin, and the Toss reviewer account.

`seed_demo` owns what `flask seed demo` creates. The catalog is the kind of shop a Toss
reviewer and the card companies expect to see: real-looking digital subscriptions with
monthly and (discounted) yearly plans, one free trial, one one-time product, VAT-included
prices, Korean copy with 제공 방법 및 기간 and 결제 후 이용 방법, and local illustrations under ``static/img/``.
청약철회: every product has the law's 7 days; the template library limits 청약철회 once a file is
downloaded (it offers free samples, as 전자상거래법 제17조⑥ requires), the others refund in full in
self-service within the window.
One category holds only an inactive product, so the site must never show it.

Everything is created once, matched by slug or email: running it again changes nothing
and says so. Passwords are generated with `secrets.token_urlsafe` unless given, printed
once when the account is created, and never again unless a reset is asked for.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storefront import accounts
from storefront.accounts import sessions as sign_ins
from storefront.models import Category, Plan, Product, User

DEFAULT_ADMIN_EMAIL = "admin@example.com"
DEFAULT_REVIEWER_EMAIL = "toss-review@example.com"
ADMIN_NAME = "관리자"
REVIEWER_NAME = "토스페이먼츠 심사 담당자"
MIN_PASSWORD_LENGTH = 10  # the sign-up form's rule


class SeedError(ValueError):
    """The seed was given something it cannot use (e.g. a too-short password); nothing was written."""


@dataclass(frozen=True)
class PlanSpec:
    name: str
    interval: str  # month | year | once
    amount_won: int  # VAT included
    trial_days: int = 0
    active: bool = True


@dataclass(frozen=True)
class ProductSpec:
    slug: str
    name: str
    kind: str  # subscription | one_time
    summary: str
    description: str
    provision: str
    image: str  # path under static/
    plans: tuple[PlanSpec, ...]
    active: bool = True
    getting_started: str = ""  # shown after paying (result page, order page, receipt email)
    cooling_off_days: int = 7
    cooling_off_exclusion: str = ""  # what counts as the beginning of provision; empty: no limit


@dataclass(frozen=True)
class CategorySpec:
    slug: str
    name: str
    description: str
    products: tuple[ProductSpec, ...] = field(default_factory=tuple)


CATALOG: tuple[CategorySpec, ...] = (
    CategorySpec(
        slug="classes",
        name="온라인 클래스",
        description="하루 10분씩, 꾸준히 배우는 온라인 강의 구독입니다.",
        products=(
            ProductSpec(
                slug="daily-english",
                name="매일 영어 회화 클래스",
                kind="subscription",
                summary="하루 10분, 원어민 강사의 상황별 회화 강의와 주 1회 발음 피드백",
                description=(
                    "매일 아침 새 강의가 열리는 온라인 영어 회화 클래스입니다. 일상·여행·비즈니스 상황별로 "
                    "10분 안팎의 짧은 강의를 듣고 따라 말하며 연습합니다.\n\n"
                    "구성: 상황별 회화 강의 매월 20편 이상, 강의별 PDF 학습지, 주 1회 녹음 과제 발음 피드백, "
                    "지난 강의 다시보기.\n\n"
                    "PC와 모바일 웹 브라우저에서 이용할 수 있으며 별도 앱 설치가 필요 없습니다. "
                    "월간 플랜은 처음 14일 동안 무료로 체험할 수 있습니다."
                ),
                provision=(
                    "결제 즉시(무료 체험은 신청 즉시) 이용 가능. 월간 플랜은 매월 결제일로부터 1개월, "
                    "연간 플랜은 결제일로부터 1년 동안 이용할 수 있으며, 해지하지 않으면 같은 날짜에 자동 갱신됩니다."
                ),
                image="img/products/daily-english.svg",
                getting_started=(
                    "결제(무료 체험은 신청) 후 10분 안에 가입하신 이메일로 강의실 초대 메일을 보내 드립니다.\n"
                    "메일의 ‘강의실 입장’ 버튼을 누르고 같은 이메일로 "
                    "로그인하면 오늘의 강의부터 바로 들을 수 있습니다. "
                    "발음 피드백 과제는 매주 월요일에 열립니다."
                ),
                plans=(
                    PlanSpec("월간 플랜 (14일 무료 체험)", "month", 12_900, trial_days=14),
                    PlanSpec("연간 플랜", "year", 129_000),
                ),
            ),
            ProductSpec(
                slug="excel-master",
                name="실무 엑셀 마스터 클래스",
                kind="subscription",
                summary="보고서·데이터 정리·자동화까지, 예제 파일로 따라 하는 실무 엑셀",
                description=(
                    "회사에서 바로 쓰는 엑셀 기능을 실제 업무 예제로 배우는 온라인 강의입니다. "
                    "함수와 피벗 테이블부터 차트, 데이터 정리, 매크로 자동화까지 단계별로 구성했습니다.\n\n"
                    "구성: 강의 120편(매월 새 강의 추가), 강의별 예제·완성 "
                    "파일 다운로드, 질문 게시판 답변(영업일 2일 이내).\n\n"
                    "Microsoft Excel 2016 이상 또는 Microsoft 365에서 실습할 수 있습니다."
                ),
                provision=(
                    "결제 즉시 이용 가능. 월간 플랜은 매월 결제일로부터 1개월, 연간 플랜은 결제일로부터 1년 동안 "
                    "모든 강의를 볼 수 있으며, 해지하지 않으면 같은 날짜에 자동 갱신됩니다."
                ),
                image="img/products/excel-master.svg",
                getting_started=(
                    "결제 후 10분 안에 가입하신 이메일로 강의실 접속 안내를 보내 드립니다.\n"
                    "강의실에서 ‘1강 시작하기’를 누르고, 강의마다 예제 파일을 내려받아 따라 해 보세요. "
                    "궁금한 점은 강의실 질문 게시판에 남겨 주시면 영업일 2일 이내에 답해 드립니다."
                ),
                plans=(
                    PlanSpec("월간 플랜", "month", 15_900),
                    PlanSpec("연간 플랜", "year", 159_000),
                ),
            ),
        ),
    ),
    CategorySpec(
        slug="design",
        name="디자인 에셋",
        description="발표 자료와 SNS 콘텐츠를 빠르게 만드는 템플릿과 디자인 소스입니다.",
        products=(
            ProductSpec(
                slug="template-library",
                name="디자인 템플릿 라이브러리",
                kind="subscription",
                summary="프레젠테이션·SNS 카드뉴스·상세페이지 템플릿 3,000종 무제한 다운로드",
                description=(
                    "발표 자료, SNS 카드뉴스, 쇼핑몰 상세페이지 등 바로 편집해 쓸 수 있는 템플릿을 "
                    "구독 기간 동안 무제한으로 내려받을 수 있습니다. 매주 새 템플릿이 30종 이상 추가됩니다.\n\n"
                    "파일 형식: PPTX, Keynote, Figma, PSD. 구독 기간에 내려받은 템플릿은 상업적 용도로 사용할 수 "
                    "있습니다(템플릿 파일 자체의 재판매·재배포는 제외).\n\n"
                    "구독 전에 고객센터로 요청하시면 샘플 템플릿 5종을 무료로 보내 드립니다."
                ),
                provision=(
                    "결제 즉시 이용 가능. 월간 플랜은 매월 결제일로부터 1개월, 연간 플랜은 결제일로부터 1년 동안 "
                    "템플릿을 내려받을 수 있으며, 해지하지 않으면 같은 날짜에 자동 갱신됩니다."
                ),
                image="img/products/template-library.svg",
                getting_started=(
                    "결제 후 10분 안에 가입하신 이메일로 템플릿 라이브러리 접속 링크를 보내 드립니다.\n"
                    "라이브러리에서 분류(프레젠테이션, 카드뉴스, 상세페이지)를 고르고 "
                    "‘내려받기’를 누르면 PPTX·Keynote·Figma·PSD "
                    "파일을 받을 수 있습니다."
                ),
                cooling_off_exclusion="템플릿 파일을 하나라도 내려받은 때",
                plans=(
                    PlanSpec("월간 플랜", "month", 9_900),
                    PlanSpec("연간 플랜", "year", 99_000),
                ),
            ),
            ProductSpec(
                slug="presentation-pack",
                name="비즈니스 프레젠테이션 템플릿 팩",
                kind="one_time",
                summary="사업계획서·제안서·IR 자료용 프레젠테이션 템플릿 50종 (1회 구매)",
                description=(
                    "사업계획서, 제안서, 투자 유치(IR) 자료에 쓰기 좋은 프레젠테이션 템플릿 50종 묶음입니다. "
                    "표지, 목차, 차트, 타임라인, 조직도 등 슬라이드 1,200장으로 구성했습니다.\n\n"
                    "파일 형식: PPTX, Keynote. 한 번 구매하면 추가 결제 없이 계속 사용할 수 있습니다.\n\n"
                    "구매 전에 고객센터로 요청하시면 샘플 슬라이드를 보내 드립니다."
                ),
                provision=(
                    "결제 확인 후 1영업일 이내에 이메일로 다운로드 링크를 보내 드립니다. "
                    "링크는 발송일로부터 30일 동안 유효하며, 만료 후에도 고객센터로 요청하시면 다시 보내 드립니다."
                ),
                image="img/products/presentation-pack.svg",
                getting_started=(
                    "결제 확인 후 1영업일 이내에 가입하신 이메일로 다운로드 링크를 보내 드립니다.\n"
                    "메일이 보이지 않으면 스팸함을 확인하시고, 그래도 없으면 주문번호와 함께 고객센터로 알려 주세요."
                ),
                plans=(PlanSpec("단품 구매", "once", 29_000),),
            ),
        ),
    ),
    # No active product: the site must never show this category (home, nav, its URL).
    CategorySpec(
        slug="workshops",
        name="오프라인 워크숍",
        description="강사와 함께하는 현장 참여형 워크숍입니다.",
        products=(
            ProductSpec(
                slug="weekend-branding-workshop",
                name="주말 브랜딩 워크숍",
                kind="one_time",
                summary="작은 브랜드를 위한 하루 집중 브랜딩 워크숍",
                description="로고, 브랜드 컬러, 톤앤매너를 하루 동안 함께 정리하는 소규모 워크숍입니다.",
                provision="신청 확정 후 일정과 장소를 이메일로 안내해 드립니다.",
                image="img/products/weekend-branding-workshop.svg",
                plans=(PlanSpec("1일 참가권", "once", 88_000),),
                active=False,
            ),
        ),
    ),
)


@dataclass
class _Report:
    categories: int = 0
    products: int = 0
    plans: int = 0
    lines: list[str] = field(default_factory=list)
    changed: bool = False


def seed_demo(
    session: Session,
    *,
    now: datetime,
    cheap_hash: bool = False,
    admin_email: str = DEFAULT_ADMIN_EMAIL,
    reviewer_email: str = DEFAULT_REVIEWER_EMAIL,
    admin_password: str | None = None,
    reviewer_password: str | None = None,
    reset_reviewer_password: bool = False,
    catalog: bool = True,
) -> list[str]:
    """Create what is missing of the demo catalog, the admin and the Toss reviewer; return lines to print.

    Matching is by category/product slug and account email; nothing that exists is
    modified, except the reviewer's password when `reset_reviewer_password` is set.
    Commits once, before returning, so a printed password always belongs to a stored
    account. Raises SeedError (and writes nothing) for unusable arguments.
    """
    _check_accounts(admin_email, reviewer_email, admin_password, reviewer_password)
    existing_reviewer = accounts.find_by_email(session, reviewer_email)
    if existing_reviewer is not None and existing_reviewer.is_admin:
        raise SeedError(f"{existing_reviewer.email} is an admin account; give the Toss reviewer its own email")
    report = _Report()
    if catalog:
        _seed_catalog(session, report)
    _seed_admin(session, report, admin_email, admin_password, now=now, cheap_hash=cheap_hash)
    _seed_reviewer(
        session,
        report,
        reviewer_email,
        reviewer_password,
        reset=reset_reviewer_password,
        now=now,
        cheap_hash=cheap_hash,
    )
    session.commit()
    if not report.changed:
        report.lines.append("demo data already exists; nothing changed")
    return report.lines


def new_password() -> str:
    """A random password for a seeded account (about 96 bits, URL-safe characters)."""
    return secrets.token_urlsafe(12)


def _check_accounts(admin_email: str, reviewer_email: str, *passwords: str | None) -> None:
    if accounts.normalize_email(admin_email) == accounts.normalize_email(reviewer_email):
        raise SeedError("the admin and the reviewer need different email addresses")
    for email in (admin_email, reviewer_email):
        if "@" not in email.strip():
            raise SeedError(f"not an email address: {email!r}")
    for password in passwords:
        if password is not None and len(password) < MIN_PASSWORD_LENGTH:
            raise SeedError(f"passwords must be at least {MIN_PASSWORD_LENGTH} characters")


def _seed_catalog(session: Session, report: _Report) -> None:
    for position, spec in enumerate(CATALOG, start=1):
        category = session.scalar(select(Category).where(Category.slug == spec.slug))
        if category is None:
            category = Category(slug=spec.slug, name=spec.name, description=spec.description, position=position)
            session.add(category)
            report.categories += 1
        for product_position, product_spec in enumerate(spec.products, start=1):
            if session.scalar(select(Product.id).where(Product.slug == product_spec.slug)) is None:
                category.products.append(_new_product(product_spec, product_position))
                report.products += 1
                report.plans += len(product_spec.plans)
    session.flush()
    if report.categories or report.products:
        report.changed = True
        report.lines.append(
            f"catalog: created {report.categories} categories, {report.products} products, {report.plans} plans"
        )
    else:
        report.lines.append("catalog: already exists (nothing changed)")


def _new_product(spec: ProductSpec, position: int) -> Product:
    product = Product(
        slug=spec.slug,
        name=spec.name,
        kind=spec.kind,
        summary=spec.summary,
        description=spec.description,
        provision=spec.provision,
        getting_started=spec.getting_started,
        cooling_off_days=spec.cooling_off_days,
        cooling_off_exclusion=spec.cooling_off_exclusion,
        image=spec.image,
        active=spec.active,
        position=position,
    )
    for plan_position, plan in enumerate(spec.plans, start=1):
        product.plans.append(
            Plan(
                name=plan.name,
                interval=plan.interval,
                amount_won=plan.amount_won,
                trial_days=plan.trial_days,
                active=plan.active,
                position=plan_position,
            )
        )
    return product


def _seed_admin(
    session: Session, report: _Report, email: str, password: str | None, *, now: datetime, cheap_hash: bool
) -> None:
    if accounts.find_by_email(session, email) is not None:
        report.lines.append(f"admin account {accounts.normalize_email(email)}: already exists (password unchanged)")
        return
    password = password or new_password()
    user = accounts.create_user(
        session,
        accounts.NewUser(email=email, password=password, name=ADMIN_NAME, is_admin=True),
        now=now,
        cheap_hash=cheap_hash,
    )
    report.changed = True
    report.lines += [
        "admin account created (sign in at /login, then open /admin/):",
        f"  email:    {user.email}",
        f"  password: {password}",
    ]


def _seed_reviewer(
    session: Session,
    report: _Report,
    email: str,
    password: str | None,
    *,
    reset: bool,
    now: datetime,
    cheap_hash: bool,
) -> None:
    user = accounts.find_by_email(session, email)
    if user is not None and not reset:
        report.lines.append(
            f"Toss reviewer account {user.email}: already exists (password unchanged; "
            "`flask seed demo --reset-reviewer-password` sets and prints a new one)"
        )
        return
    password = password or new_password()
    if user is None:
        user = accounts.create_user(
            session,
            accounts.NewUser(email=email, password=password, name=REVIEWER_NAME),
            now=now,
            cheap_hash=cheap_hash,
        )
        what = "created"
    else:
        accounts.set_password(user, password, cheap_hash=cheap_hash)
        # A lost password may be a leaked one: whoever is signed in with the old one is signed out.
        ended = sign_ins.end_all(session, user.id)
        what = f"password reset, {ended} sign-in(s) ended"
    report.changed = True
    report.lines += _reviewer_lines(user, password, what)


def _reviewer_lines(user: User, password: str, what: str) -> list[str]:
    return [
        f"Toss reviewer account (심사용 계정) {what}:",
        f"  email:    {user.email}",
        f"  password: {password}",
        "Hand these reviewer credentials, with your production URL, to your Toss 계약 담당자 "
        "(토스페이먼츠 계약 담당자에게 심사용 계정으로 전달하세요).",
        "The account is an ordinary shopper: it signs in at /login and reaches the payment window "
        "from any product's 구독하기 button. It is not an admin.",
    ]
