"""The retention table applied on a moving clock: past each period the data is gone or anonymised, the rest stays.

A member who stays (김계속) and one who withdraws (박탈퇴) each have the records a purchase leaves:
a paid subscription period with its attempt and a refund, a destroyed card, a one-time order,
consents with IPs, sent notices, an access-log row. The clock then moves past each period of
`storefront.retention.RULES`, and the job (`jobs.retention_job`, as the timer runs it) is run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from storefront import accounts, jobs, retention
from storefront.billing.compliance import withdrawal
from storefront.models import (
    Attempt,
    AuditLog,
    BillingKey,
    Category,
    Charge,
    Consent,
    EmailMessage,
    Order,
    Plan,
    Product,
    Refund,
    Subscription,
    User,
    WebhookEvent,
)

PASSWORD = "correct horse 1"


@dataclass
class Trail:
    """The ids of what one purchase left behind."""

    user_id: int
    attempt_id: int
    order_id: int
    order_attempt_id: int
    refund_id: int
    card_id: int
    consent_id: int
    email_id: int


@pytest.fixture
def plans(db_session):
    category = Category(slug="c", name="클래스")
    product = Product(category=category, slug="p", name="영어 회화", kind="subscription")
    monthly = Plan(product=product, name="월간", interval="month", amount_won=9900)
    once = Plan(product=product, name="단품", interval="once", amount_won=29000)
    db_session.add_all([category, product, monthly, once])
    db_session.commit()
    return monthly, once


def member(session, email: str, name: str, now: datetime) -> User:
    user = accounts.create_user(
        session,
        accounts.NewUser(email=email, password=PASSWORD, name=name, phone="010-1234-5678"),
        now=now,
        cheap_hash=True,
    )
    session.commit()
    return user


def purchase(session, user: User, plans, now: datetime, tag: str) -> Trail:
    """One paid, partly refunded period, a destroyed card, a paid order, a consent and a sent receipt."""
    monthly, once = plans
    card = BillingKey(
        user_id=user.id,
        customer_key=user.customer_key,
        sealed=None,
        card_company="현대",
        card_number_masked="4330****1234",
        card_type="신용",
        owner_type="개인",
        issued_at=now,
        deactivated_at=now,
        destroyed_at=now,
        fingerprint="f" * 64,
    )
    sub = Subscription(
        user_id=user.id,
        plan_id=monthly.id,
        billing_key=card,
        status="canceled",
        amount_won=9900,
        anchor_day=10,
        current_period_start=now,
        current_period_end=now + timedelta(days=31),
        ended_at=now,
        ended_reason="canceled_now_by_customer",
        created_at=now,
    )
    charge = Charge(
        subscription=sub,
        period_start=now,
        period_end=now + timedelta(days=31),
        amount_won=9900,
        status="paid",
        paid_at=now,
        created_at=now,
    )
    attempt = Attempt(
        charge=charge,
        order_id=f"sub-{tag}",
        idempotency_key=f"sub-{tag}",
        amount_won=9900,
        status="done",
        payment_key=f"tpay_{tag}",
        receipt_url=f"https://receipt/{tag}",
        card_summary="현대 4330****1234",
        raw_response='{"orderId": "x"}',
        approved_at=now,
        created_at=now,
        updated_at=now,
    )
    refund = Refund(
        attempt=attempt,
        amount_won=3000,
        reason="중도 해지 일할 환불",
        idempotency_key=f"prorata-{tag}",
        status="done",
        transaction_key=f"tx_{tag}",
        created_at=now,
        settled_at=now,
    )
    session.add_all([card, sub, charge, attempt, refund])
    session.flush()
    consent = Consent(
        user_id=user.id,
        subscription_id=sub.id,
        kind="terms",
        decision="agreed",
        text_version="2026-11-24",
        detail='{"plan_id": 1}',
        ip="203.0.113.7",
        at=now,
    )
    order = Order(
        order_id=f"O-{tag}-0000",
        user_id=user.id,
        plan_id=once.id,
        order_name="영어 회화 단품",
        amount_won=29000,
        status="paid",
        payment_key=f"tpay_o_{tag}",
        receipt_url=f"https://receipt/o/{tag}",
        created_at=now,
        expires_at=now + timedelta(minutes=30),
        paid_at=now,
    )
    order_attempt = Attempt(
        order=order,
        order_id=f"O-{tag}-0000",
        idempotency_key=f"confirm-{tag}",
        amount_won=29000,
        status="done",
        payment_key=f"tpay_o_{tag}",
        created_at=now,
        updated_at=now,
    )
    email = EmailMessage(
        channel="email",
        dedup_key=f"receipt:{tag}",
        user_id=user.id,
        to=user.email,
        kind="payment_receipt",
        subject="결제 완료 안내",
        body_text=f"{user.name}님, 결제되었습니다.",
        body_html=f"<p>{user.name}님</p>",
        status="sent",
        attempts=1,
        created_at=now,
        sent_at=now,
    )
    session.add_all([consent, order, order_attempt, email])
    session.commit()
    return Trail(user.id, attempt.id, order.id, order_attempt.id, refund.id, card.id, consent.id, email.id)


def access_log(session, now: datetime) -> int:
    row = AuditLog(at=now, actor_type="worker", actor_id=None, action="unseal", reason="renewal", ip="10.0.0.1")
    session.add(row)
    session.commit()
    return row.id


def webhook(session, now: datetime, tag: str) -> int:
    row = WebhookEvent(
        transmission_id=tag,
        event_type="PAYMENT_STATUS_CHANGED",
        payload='{"orderId": "x"}',
        status="processed",
        received_at=now,
    )
    session.add(row)
    session.commit()
    return row.id


@pytest.fixture
def run_job(app, monkeypatch, db_session):
    """The timer's job, in this process, on the test's app and clock."""
    monkeypatch.setattr(jobs.process, "_built", None)
    jobs.adopt_app(app)

    def run() -> dict[str, int]:
        changed = jobs.retention_job()
        db_session.expire_all()
        return changed

    return run


def test_each_period_passes_and_only_what_is_due_goes(app, db_session, clock, plans, run_job):
    start = clock.now()
    stays = member(db_session, "stay@example.com", "김계속", start)
    leaves = member(db_session, "leave@example.com", "박탈퇴", start)
    kept, gone = purchase(db_session, stays, plans, start, "stay"), purchase(db_session, leaves, plans, start, "leave")
    first_log, first_hook = access_log(db_session, start), webhook(db_session, start, "hook-1")
    get = db_session.get

    # 탈퇴 the next day; a notice queued just before it must not go out
    clock.advance(days=1)
    queued = EmailMessage(
        channel="email",
        dedup_key="renewal:leave",
        user_id=leaves.id,
        to=leaves.email,
        kind="renewal_notice",
        subject="결제 예정 안내",
        body_text="박탈퇴님",
        status="queued",
        attempts=0,
        created_at=clock.now(),
    )
    db_session.add(queued)
    db_session.commit()
    found = app.extensions["storefront"]
    withdrawal.delete_account(
        db_session, user=leaves, password=PASSWORD, toss=None, vault=found.vault, clock=clock, ip="198.51.100.1"
    )
    run_job()
    email, consent = get(EmailMessage, gone.email_id), get(Consent, gone.consent_id)
    assert (email.to, email.body_text, email.body_html, email.status) == ("", "", None, "sent")
    assert (get(EmailMessage, queued.id).status, get(EmailMessage, queued.id).body_text) == ("skipped", "")
    assert consent.ip == "" and consent.detail == '{"plan_id": 1}'
    assert get(User, leaves.id).customer_key.startswith(retention.RETIRED_CUSTOMER_KEY)
    # the records the law keeps are all there, and the member who stays is untouched
    assert get(Attempt, gone.attempt_id).payment_key == "tpay_leave" and get(Order, gone.order_id).receipt_url
    assert get(EmailMessage, kept.email_id).to == "stay@example.com"
    assert get(Consent, kept.consent_id).ip == "203.0.113.7"

    # 3 months: consent IPs go, for everyone; the day before, they stay
    clock.set(start + relativedelta(months=3) - timedelta(hours=1))
    run_job()
    assert get(Consent, kept.consent_id).ip == "203.0.113.7"
    clock.set(start + relativedelta(months=3) + timedelta(hours=1))
    recent = Consent(
        user_id=stays.id,
        kind="order_terms",
        decision="agreed",
        text_version="v",
        detail="{}",
        ip="203.0.113.9",
        at=clock.now(),
    )
    db_session.add(recent)
    db_session.commit()
    assert run_job()["visits"] == 1
    assert get(Consent, kept.consent_id).ip == "" and get(Consent, recent.id).ip == "203.0.113.9"

    # 2 years: the access log's first row goes, a later one stays
    clock.set(start + relativedelta(years=2) + timedelta(hours=1))
    later_log = access_log(db_session, clock.now())
    run_job()
    assert get(AuditLog, first_log) is None and get(AuditLog, later_log) is not None

    # 5 years: the withdrawn member's trail is anonymised, sent notices and webhooks go, the rest stays
    clock.set(start + relativedelta(years=5) - timedelta(hours=1))
    later_hook = webhook(db_session, clock.now(), "hook-2")
    run_job()
    assert get(Attempt, gone.attempt_id).payment_key == "tpay_leave" and get(WebhookEvent, first_hook) is not None
    clock.set(start + relativedelta(years=5) + timedelta(hours=1))
    run_job()
    attempt, order = get(Attempt, gone.attempt_id), get(Order, gone.order_id)
    assert (attempt.payment_key, attempt.receipt_url, attempt.card_summary, attempt.raw_response) == (None,) * 4
    assert (attempt.amount_won, attempt.status) == (9900, "done")  # what remains is anonymous figures
    assert (order.payment_key, order.receipt_url, order.amount_won) == (None, None, 29000)
    assert get(Attempt, gone.order_attempt_id).payment_key is None
    refund = get(Refund, gone.refund_id)
    assert (refund.transaction_key, refund.reason, refund.amount_won) == (None, "", 3000)
    card = get(BillingKey, gone.card_id)
    assert (card.card_company, card.card_number_masked, card.customer_key, card.fingerprint) == ("", "", "", None)
    assert get(Consent, gone.consent_id).detail == ""
    assert get(EmailMessage, gone.email_id) is None and get(EmailMessage, kept.email_id) is None
    assert get(WebhookEvent, first_hook) is None and get(WebhookEvent, later_hook) is not None
    # the member who stays keeps their history (내 구독 shows it) and their cards' labels
    assert get(Attempt, kept.attempt_id).receipt_url == "https://receipt/stay"
    assert get(Order, kept.order_id).payment_key == "tpay_o_stay"
    assert get(BillingKey, kept.card_id).card_number_masked == "4330****1234"
    assert get(Consent, kept.consent_id).detail == '{"plan_id": 1}'

    assert set(run_job().values()) == {0}  # a second run finds nothing left to do


def test_the_privacy_policy_renders_every_rule_of_the_table(client):
    page = client.get("/privacy").get_data(as_text=True)
    for rule in retention.RULES:
        row = page.split(f'data-retention="{rule.key}"', 1)[1].split("</tr>", 1)[0]
        for cell in (rule.record, rule.period, rule.then, rule.basis):
            assert f"<td>{cell}</td>" in row, (rule.key, cell)
    assert page.count("data-retention=") == len(retention.RULES)


def test_every_rule_is_applied_by_the_job_or_says_who_applies_it():
    for rule in retention.RULES:
        assert (rule.step is None) != (rule.handled_by == ""), rule.key
    periods = {rule.key: rule.keep for rule in retention.RULES if rule.keep is not None}
    assert periods == {
        "contract": relativedelta(years=5),
        "payment": relativedelta(years=5),
        "complaints": relativedelta(years=3),
        "advertising": relativedelta(months=6),
        "visits": relativedelta(months=3),
        "access_log": relativedelta(years=2),
        "password_resets": relativedelta(days=1),
        "login_throttles": relativedelta(hours=24),
    }


def test_sign_up_requests_reset_links_sign_ins_and_wrong_password_counts_go_when_their_time_is_up(
    app, db_session, clock, run_job
):
    """What sign-up, 비밀번호 찾기, sign-in and the throttle leave is gone once it can no longer be used."""
    from storefront.accounts import reset, sessions, signup, throttle
    from storefront.models import LoginThrottle, PasswordReset, SignupRequest, UserSession

    notifier, start = app.extensions["storefront"].notifier, clock.now()
    links = signup.Links(
        confirm_for=lambda token: f"https://shop.example/signup/{token}",
        login="https://shop.example/login",
        forgot="https://shop.example/forgot",
    )
    signup.apply(
        db_session,
        signup.Application(
            email="later@example.com",
            password=PASSWORD,
            name="이미정",
            phone="010-2222-3333",
            marketing_opt_in=False,
            next_url="/",
        ),
        browser_nonce="nonce",
        now=start,
        notifier=notifier,
        links=links,
        cheap_hash=True,
    )
    user = member(db_session, "kim@example.com", "김회원", start)
    reset.request_reset(db_session, user.email, now=start, notifier=notifier, link_for=lambda t: f"https://x/{t}")
    sessions.start(db_session, user, now=start)
    throttle.record_failure(db_session, throttle.account_key("kim@example.com"), now=start)
    db_session.commit()

    def left() -> tuple[int, int, int, int]:
        return tuple(
            len(db_session.scalars(select(model)).all())
            for model in (SignupRequest, PasswordReset, UserSession, LoginThrottle)
        )

    clock.set(start + timedelta(hours=23))  # the reset link has expired, the rest is still usable
    changed = run_job()
    assert left() == (1, 1, 1, 1) and changed["signup_requests"] == changed["password_resets"] == 0
    clock.set(start + timedelta(hours=24, minutes=1))  # the sign-up link and the wrong-password count expire
    assert (run_job()["signup_requests"], left()) == (1, (0, 1, 1, 0))
    clock.set(start + timedelta(hours=24, minutes=31))  # a day after the reset link expired
    assert (run_job()["password_resets"], left()) == (1, (0, 0, 1, 0))
    clock.set(start + sessions.LIFETIME + timedelta(minutes=1))
    later = sessions.start(db_session, db_session.get(User, user.id), now=clock.now() - timedelta(days=1))
    db_session.commit()
    assert (run_job()["sessions"], left()) == (1, (0, 0, 1, 0))
    assert sessions.load(db_session, f"{user.id}:{later}", now=clock.now()) is not None  # the newer one stays
    assert set(run_job().values()) == {0}
