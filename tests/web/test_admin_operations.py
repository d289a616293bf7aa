"""Admin 결제 운영, 결제 시도, 동의 현황 and 작업: access, the dashboard's buttons, the consent list,
and the read-only jobs page over a real Redis (failed jobs run by rq.SimpleWorker)."""

from __future__ import annotations

import dataclasses
import re
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from storefront import jobs
from storefront.extensions import services
from storefront.models import Attempt, AuditLog, Charge, EmailMessage, Order, Plan, PriceChange, User
from tests.billing.conftest import Shop
from tests.conftest import csrf_token, make_config
from tests.fakes import TIMEOUT_AFTER_APPROVE, FakeToss
from tests.web.admin_support import login_admin, make_catalog, make_paid
from tests.web.order_support import make_catalog as make_order_catalog
from tests.web.order_support import payment

FOOTER = "통신판매업 신고번호"
PAGES = ["/admin/attempts", "/admin/consents", "/admin/jobs", "/admin/orders"]
ACTIONS = [
    "/admin/operations/reconcile",
    "/admin/operations/settle-orders",
    "/admin/operations/deliver-notices",
    "/admin/jobs/default/some-job/requeue",
]
LEAKED_URL = "https://api.tosspayments.com/v1/billing/bk_live_0123456789abcdefSECRET"


def explode(subscription_id: int, as_of: str | None = None, **_: object) -> None:
    """A job that fails the way a real one might: an error in a cause, a URL in the message."""
    try:
        raise KeyError("inner detail that stays in the traceback")
    except KeyError as exc:
        raise RuntimeError(f"lookup for subscription {subscription_id} failed at {LEAKED_URL}") from exc


@pytest.fixture
def toss(clock) -> FakeToss:
    return FakeToss(clock)


@pytest.fixture
def shop(app, db_session, toss, clock, config) -> Shop:
    """The billing engine with the app's own vault and notifier (real outbox rows)."""
    found = services()
    return Shop(db_session, toss, found.vault, found.notifier, clock, config)


def _figure(page: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]*)<', page)
    assert match, name
    return match.group(1)


def _press(client, path: str, *, on: str = "/admin/") -> str:
    """Press a button: POST with the CSRF token of the page it is on, follow the redirect."""
    response = client.post(path, data={"csrf_token": csrf_token(client, on)}, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


# -- access ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_guests_are_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", PAGES)
def test_shoppers_get_403(client, auth, path):
    auth.signup()
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ACTIONS)
def test_shoppers_cannot_press_the_buttons(client, auth, toss, path):
    auth.signup()
    response = client.post(path, data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 403
    assert toss.lookups == []


@pytest.mark.parametrize("path", ACTIONS)
def test_posts_without_csrf_are_refused(client, auth, db_session, clock, shop, toss, path):
    sub = shop.subscribe(status="active")
    toss.will(TIMEOUT_AFTER_APPROVE)
    shop.charge(sub.id)
    clock.advance(minutes=11)
    login_admin(auth, db_session, clock.now())

    assert client.post(path).status_code == 400
    assert toss.lookups == []  # reconcile did not run
    assert db_session.scalars(select(Attempt.status)).all() == ["unknown"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_in_the_site_layout_with_the_new_menu(client, auth, db_session, clock, path):
    login_admin(auth, db_session, clock.now())
    response = client.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert FOOTER in page and "관리자 메뉴" in page
    for link in ('href="/admin/orders"', 'href="/admin/attempts"', 'href="/admin/consents"', 'href="/admin/jobs"'):
        assert link in page
    assert "<script>" not in page and "style=" not in page


# -- 결제 운영 ----------------------------------------------------------------------------------------


def test_reconcile_settles_an_unknown_payment_and_its_receipt_is_then_delivered(
    client, auth, db_session, clock, shop, toss
):
    sub = shop.subscribe(status="active")
    toss.will(TIMEOUT_AFTER_APPROVE)  # Toss charged, the answer was lost
    assert shop.charge(sub.id).outcome == "unknown"
    make_paid(db_session, clock.now(), email="late@example.com", status="past_due")
    login_admin(auth, db_session, clock.now())

    dashboard = client.get("/admin/").get_data(as_text=True)
    assert _figure(dashboard, "ops-unknown-attempts") == "1" and _figure(dashboard, "ops-past-due") == "1"
    assert 'href="/admin/attempts?status=unknown"' in dashboard
    assert 'href="/admin/subscriptions?status=past_due"' in dashboard
    assert "결과 미확인 결제 확인" in dashboard and "10분 이상 지난 것" in dashboard

    too_fresh = _press(client, "/admin/operations/reconcile")
    assert "확인할 결제가 없습니다" in too_fresh and toss.lookups == []  # it may still be on the wire

    clock.advance(minutes=11)
    page = _press(client, "/admin/operations/reconcile")

    assert "결과 미확인 결제 1건을 토스페이먼츠에 조회했습니다: 결제 확인 1건" in page
    db_session.expire_all()
    [attempt] = db_session.scalars(
        select(Attempt).where(Attempt.charge_id.is_not(None), Attempt.order_id.not_like("sub-%"))
    ).all()
    assert attempt.status == "done" and len(toss.approved) == 1
    assert db_session.get(Charge, attempt.charge_id).status == "paid"
    assert _figure(page, "ops-unknown-attempts") == "0"
    [receipt] = db_session.scalars(select(EmailMessage).where(EmailMessage.kind == "payment_receipt")).all()
    assert receipt.status == "queued" and _figure(page, "ops-queued-notices") == "1"

    page = _press(client, "/admin/operations/deliver-notices")

    assert "대기 중인 알림 1건을 보냈습니다. 남은 발송 대기 0건." in page
    db_session.expire_all()
    assert db_session.get(EmailMessage, receipt.id).status == "logged"  # no SMTP_URL: printed and marked
    assert _figure(page, "ops-queued-notices") == "0"
    assert len(toss.calls) == 1  # pressing again never charges
    assert "확인할 결제가 없습니다" in _press(client, "/admin/operations/reconcile")


def test_settling_orders_books_a_lost_confirm_and_expires_unpaid_orders(client, auth, db_session, clock, toss):
    now = clock.now()
    plan = db_session.get(Plan, make_order_catalog(db_session).once_plan_id)
    buyer = User(email="buyer@example.com", password_hash="x", name="김구매", created_at=now)
    db_session.add(buyer)
    db_session.flush()
    lost = Order(
        order_id="O20260310-1111222233334444",
        user_id=buyer.id,
        plan_id=plan.id,
        order_name="팩",
        amount_won=plan.amount_won,
        status="pending",
        created_at=now,
        expires_at=now + timedelta(minutes=30),
    )
    stale = Order(
        order_id="O20260310-5555666677778888",
        user_id=buyer.id,
        plan_id=plan.id,
        order_name="팩",
        amount_won=plan.amount_won,
        status="pending",
        created_at=now - timedelta(hours=1),
        expires_at=now - timedelta(minutes=30),
    )
    db_session.add_all([lost, stale])
    db_session.flush()
    db_session.add(
        Attempt(
            order_pk=lost.id,
            order_id=lost.order_id,
            idempotency_key=f"confirm-{lost.order_id}",
            amount_won=lost.amount_won,
            status="unknown",
            payment_key="tpay_order_1",
            created_at=now,
            updated_at=now,
        )
    )
    db_session.commit()
    toss.ledger[lost.order_id] = payment(lost.order_id, "DONE", at=now)  # Toss approved it
    login_admin(auth, db_session, now)
    assert _figure(client.get("/admin/").get_data(as_text=True), "ops-checking-orders") == "1"

    detail = f"/admin/orders/{lost.order_id}"
    assert f'action="/admin/operations/settle-orders?back={detail}"' in client.get(detail).get_data(as_text=True)
    page = _press(client, f"/admin/operations/settle-orders?back={detail}", on=detail)

    assert "확인 중인 1회 구매 1건을 토스페이먼츠에 조회했습니다: 결제 완료 1건" in page
    assert f"1회 구매 <code>{lost.order_id}</code>" in page and "결제 완료" in page  # back on the order's page
    elsewhere = client.post(
        "/admin/operations/settle-orders?back=//evil.example/admin/", data={"csrf_token": csrf_token(client, "/admin/")}
    )
    assert elsewhere.headers["Location"] == "/admin/"
    db_session.expire_all()
    assert (db_session.get(Order, lost.id).status, db_session.get(Order, stale.id).status) == ("paid", "expired")
    assert db_session.scalars(select(EmailMessage.kind)).all() == ["order_receipt"]
    assert _figure(client.get("/admin/").get_data(as_text=True), "ops-checking-orders") == "0"


def test_delivery_failures_are_reported_and_left_queued(client, auth, db_session, clock, app):
    db_session.add(
        EmailMessage(
            dedup_key="k1:email",
            to="a@example.com",
            kind="payment_receipt",
            subject="s",
            body_text="b",
            status="queued",
            created_at=clock.now(),
        )
    )
    db_session.commit()
    login_admin(auth, db_session, clock.now())

    class Down:
        def send(self, message) -> str:
            raise OSError("mail server down")

    services().notifier.email_backend = Down()
    page = _press(client, "/admin/operations/deliver-notices")

    assert (
        "대기 중인 알림 0건을 보냈습니다. 남은 발송 대기 1건. 보내지 못한 알림의 오류는 발송함에서 확인하세요." in page
    )


def test_the_attempt_list_filters_by_status_and_links_to_the_subscription(client, auth, db_session, clock, shop, toss):
    sub = shop.subscribe(status="active")
    toss.will(TIMEOUT_AFTER_APPROVE)
    shop.charge(sub.id)
    paid = make_paid(db_session, clock.now(), email="done@example.com")
    admin = login_admin(auth, db_session, clock.now())

    unknown = client.get("/admin/attempts?status=unknown").get_data(as_text=True)
    everyone = client.get("/admin/attempts").get_data(as_text=True)

    assert f'href="/admin/subscriptions/{sub.id}"' in unknown and "결과 미확인" in unknown
    assert paid.attempt.order_id not in unknown and paid.attempt.order_id in everyone
    assert f'href="/admin/attempts/{paid.attempt.id}/refund"' in everyone
    logs = db_session.scalars(select(AuditLog).where(AuditLog.action == "admin_list_attempts")).all()
    assert [log.actor_id for log in logs] == [admin.id, admin.id]


# -- 동의 현황 ----------------------------------------------------------------------------------------


def test_the_consent_list_shows_who_has_not_answered_and_filters(client, auth, db_session, clock):
    now = clock.now()
    plan = make_catalog(db_session)
    rows = []
    for n, (email, kind, status, requested) in enumerate(
        [
            ("quiet@example.com", "price_increase", "pending", True),
            ("notyet@example.com", "price_increase", "pending", False),
            ("yes@example.com", "price_increase", "agreed", True),
            ("trial@example.com", "trial_conversion", "lapsed", True),
        ]
    ):
        sub = make_paid(db_session, now, plan=plan, email=email).subscription
        rows.append(
            PriceChange(
                subscription_id=sub.id,
                kind=kind,
                reason="trial" if kind == "trial_conversion" else "plan_price",
                old_amount_won=9900 if kind == "price_increase" else 0,
                new_amount_won=12900,
                effective_at=now + timedelta(days=10 + n),
                token=f"t{n}",
                status=status,
                requested_at=now - timedelta(days=4) if requested else None,
                reminders_sent=1 if status == "pending" and requested else 0,
                created_at=now,
            )
        )
    db_session.add_all(rows)
    db_session.commit()
    admin = login_admin(auth, db_session, now)

    page = client.get("/admin/consents").get_data(as_text=True)
    assert _figure(page, "changes-pending") == "2" and _figure(page, "changes-agreed") == "1"
    assert _figure(page, "changes-lapsed") == "1" and _figure(page, "changes-applied") == "0"

    waiting = client.get("/admin/consents?status=pending").get_data(as_text=True)
    assert "quiet@example.com" in waiting and "notyet@example.com" in waiting
    assert "yes@example.com" not in waiting and "trial@example.com" not in waiting
    assert "9,900원 → 12,900원" in waiting and "10일 남음" in waiting and "요청 전" in waiting and "1회" in waiting
    assert waiting.index("quiet@example.com") < waiting.index("notyet@example.com")  # soonest first

    trials = client.get("/admin/consents?kind=trial_conversion").get_data(as_text=True)
    assert "trial@example.com" in trials and "0원 → 12,900원" in trials and "무응답(종료)" in trials
    assert "quiet@example.com" not in trials
    assert "조건에 맞는 요금 변경이 없습니다" in client.get("/admin/consents?status=applied").get_data(as_text=True)
    logs = db_session.scalars(select(AuditLog).where(AuditLog.action == "admin_list_consents")).all()
    assert len(logs) == 4 and {log.actor_id for log in logs} == {admin.id}


# -- 작업 --------------------------------------------------------------------------------------------


def test_without_redis_the_jobs_page_says_so_and_shows_the_timer_settings(client, auth, db_session, clock):
    login_admin(auth, db_session, clock.now())

    response = client.get("/admin/jobs")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "Redis가 설정되지 않았습니다" in page
    assert "sweep_due_job" in page and "5분마다" in page and "cron 30 19 * * * (UTC)" in page
    flashed = _press(client, "/admin/jobs/default/some-job/requeue", on="/admin/jobs")
    assert "Redis가 설정되지 않아" in flashed


def test_a_redis_that_does_not_answer_is_reported_not_a_500(client, auth, db_session, clock, app, config):
    login_admin(auth, db_session, clock.now())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    app.config["STOREFRONT"] = dataclasses.replace(config, redis_url=f"redis://127.0.0.1:{closed_port}/0")

    response = client.get("/admin/jobs")

    assert response.status_code == 200 and "Redis에 연결할 수 없습니다" in response.get_data(as_text=True)


class TestWithRedis:
    @pytest.fixture
    def config(self, tmp_path: Path, redis_url: str):
        return make_config(tmp_path, REDIS_URL=redis_url)

    @pytest.fixture
    def connection(self, redis_url: str):
        with Redis.from_url(redis_url) as conn:
            yield conn

    def _fail_a_job(self, connection) -> str:
        queue = Queue(jobs.DEFAULT_QUEUE, connection=connection)
        job = queue.enqueue(explode, 12, "2026-03-10T10:00:00+09:00", note="kwarg-secret-value")
        SimpleWorker([queue], connection=connection).work(burst=True)
        assert job.id in FailedJobRegistry(queue=queue).get_job_ids()
        return job.id

    def test_a_failed_job_is_listed_with_only_the_last_line_of_its_error(
        self, client, auth, db_session, clock, connection
    ):
        job_id = self._fail_a_job(connection)
        login_admin(auth, db_session, clock.now())

        page = client.get("/admin/jobs").get_data(as_text=True)

        row = re.search(rf'<tr data-job="{job_id}">.*?</tr>', page, re.S).group(0)
        assert "tests.web.test_admin_operations.explode" in row
        assert "(12, &#39;2026-03-10T10:00:00+09:00&#39;)" in row and "키워드 인자(표시 안 함)" in row
        assert "RuntimeError: lookup for subscription 12 failed at [생략]" in row
        for hidden in (
            "kwarg-secret-value",
            "bk_live_",
            "SECRET",
            "api.tosspayments.com",
            "Traceback",
            "inner detail",
            "File &#34;",
        ):
            assert hidden not in page, hidden
        counts = re.search(r'<tr data-queue="default">.*?</tr>', page, re.S).group(0)
        assert 'data-count="failed">1<' in counts and 'data-count="queued">0<' in counts
        assert "모든 작업은 같은 일을 두 번 하지 않도록" in page

    def test_retrying_a_failed_job_puts_it_back_on_its_queue(self, client, auth, db_session, clock, connection):
        job_id = self._fail_a_job(connection)
        login_admin(auth, db_session, clock.now())
        queue = Queue(jobs.DEFAULT_QUEUE, connection=connection)

        page = _press(client, f"/admin/jobs/{jobs.DEFAULT_QUEUE}/{job_id}/requeue", on="/admin/jobs")

        assert f"작업 {job_id}을(를) default 대기열에 다시 넣었습니다" in page
        assert queue.job_ids == [job_id]
        assert FailedJobRegistry(queue=queue).get_job_ids() == []
        counts = re.search(r'<tr data-queue="default">.*?</tr>', page, re.S).group(0)
        assert 'data-count="queued">1<' in counts and 'data-count="failed">0<' in counts
        again = _press(client, f"/admin/jobs/{jobs.DEFAULT_QUEUE}/{job_id}/requeue", on="/admin/jobs")
        assert "실패 목록에 없습니다" in again and queue.job_ids == [job_id]  # not queued twice
        assert (
            client.post(
                f"/admin/jobs/nosuchqueue/{job_id}/requeue", data={"csrf_token": csrf_token(client, "/admin/jobs")}
            ).status_code
            == 404
        )

    def test_the_running_timer_is_read_from_redis(self, client, auth, db_session, clock, connection):
        login_admin(auth, db_session, clock.now())
        assert 'data-state="no-cron"' in client.get("/admin/jobs").get_data(as_text=True)
        scheduler = CronScheduler(connection=connection, name="cron-on-host-1")
        scheduler.load_config_from_file("storefront.cron")
        scheduler.register_birth()

        page = client.get("/admin/jobs").get_data(as_text=True)

        assert "실행 중인 타이머 <code>cron-on-host-1</code>" in page and 'data-state="no-cron"' not in page
        for shown in (
            "sweep_due_job",
            "reconcile_job",
            "settle_orders_job",
            "retention_job",
            "5분마다",
            "10분마다",
            "1시간마다",
            "cron 30 19 * * * (UTC)",
        ):
            assert shown in page, shown
        assert "Redis가 설정되지 않았습니다" not in page
