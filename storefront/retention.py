"""Retention: how long each kind of personal data is kept, and the daily job that lets it go.

`RULES` is the one retention table. The privacy policy's 처리 및 보유 기간 (templates/legal/
privacy.html) renders it row by row, and `apply_rules` (the timer's daily `jobs.retention_job`)
carries out every rule whose data this site holds; the others name who applies them
(`handled_by`). Change a period or an action here and both the page and the job change.

The shape of the rules: while someone is a member, their records serve the contract and
내 구독 shows them. When they withdraw (회원탈퇴, billing/compliance/withdrawal.py anonymises the member
row at once), the contact details left on kept rows go within a day (the policy promises
"지체 없이(늦어도 5일 이내)"), and the records the law keeps (전자상거래법 시행령 제6조) are
anonymised once five years have passed since each record's own date. Some data goes on a
rolling clock for everyone: IPs after three months, access-log rows after two years,
Toss's webhook messages and sent notices after five years. What the accounts tables hold only
to get someone signed up or signed in goes once it can no longer be used: a sign-up whose link
expired or was used, a sign-in past its lifetime, a 비밀번호 찾기 link a day after it expired,
a wrong-password count a day after the last wrong password (storefront/accounts/).

Every step is one UPDATE or DELETE over an indexed date or the withdrawn members, is
idempotent (a second run changes nothing), commits on its own, and reports how many rows it
changed. No Flask in here: the job passes the session and the clock's time.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from collections.abc import Callable

from dateutil.relativedelta import relativedelta
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from storefront.accounts import reset, sessions, signup, throttle
from storefront.audit import RETENTION_YEARS, purge_audit_log
from storefront.billing.compliance.withdrawal import deleted_email
from storefront.dml import execute_dml
from storefront.models import (
    Attempt,
    BillingKey,
    Charge,
    Consent,
    EmailMessage,
    Order,
    Refund,
    Subscription,
    User,
    WebhookEvent,
)
from storefront.notify.notifier import SKIPPED_WITHDRAWN

log = logging.getLogger(__name__)

# A withdrawn member's customerKey is replaced by a random one with this prefix (never sent to Toss again).
RETIRED_CUSTOMER_KEY = "withdrawn-"

Step = Callable[[Session, datetime], int]


@dataclass(frozen=True)
class Rule:
    """One row of the retention table: what, how long, what happens then, and who does it."""

    key: str
    record: str  # 보존 정보, as the privacy policy names it
    period: str  # 기간, as shown
    then: str  # what happens when the period ends, as shown
    basis: str  # 근거
    keep: relativedelta | None = None  # from each record's own date; None: until an event (탈퇴, 구독 종료)
    step: Step | None = None  # what the job runs, given the cutoff (now - keep, or now)
    handled_by: str = ""  # when the job has no step: where the rule is applied

    def cutoff(self, now: datetime) -> datetime:
        """Records dated before this are past the period (now itself for event-driven rules)."""
        return now - self.keep if self.keep is not None else now


# -- who has withdrawn -----------------------------------------------------------------------------


def _withdrawn_ids():
    """The ids of withdrawn members: their email is billing/compliance/withdrawal.py's placeholder."""
    return select(User.id).where(User.email.like(deleted_email("%")))


def _changed(session: Session, statement) -> int:
    return int(execute_dml(session, statement.execution_options(synchronize_session=False)).rowcount or 0)


# -- the steps -------------------------------------------------------------------------------------


def forget_withdrawn_contacts(session: Session, cutoff: datetime) -> int:
    """After 탈퇴: notices not yet sent are skipped; addresses, bodies and IPs go; customerKey is replaced."""
    withdrawn = _withdrawn_ids()
    changed = _changed(
        session,
        update(EmailMessage)
        .where(EmailMessage.user_id.in_(withdrawn), EmailMessage.status == "queued")
        .values(status="skipped", last_error=SKIPPED_WITHDRAWN),
    )
    changed += _changed(
        session,
        update(EmailMessage)
        .where(
            EmailMessage.user_id.in_(withdrawn),
            or_(EmailMessage.to != "", EmailMessage.body_text != "", EmailMessage.body_html.is_not(None)),
        )
        .values(to="", body_text="", body_html=None),
    )
    changed += _changed(session, update(Consent).where(Consent.user_id.in_(withdrawn), Consent.ip != "").values(ip=""))
    users = session.scalars(
        select(User).where(User.id.in_(withdrawn), User.customer_key.not_like(f"{RETIRED_CUSTOMER_KEY}%"))
    ).all()
    for user in users:
        user.customer_key = RETIRED_CUSTOMER_KEY + uuid.uuid4().hex
    return changed + len(users)


def forget_old_ips(session: Session, cutoff: datetime) -> int:
    """Everyone: the IP recorded with a consent goes three months after it was given."""
    return _changed(session, update(Consent).where(Consent.at < cutoff, Consent.ip != "").values(ip=""))


def anonymise_old_contract_records(session: Session, cutoff: datetime) -> int:
    """Withdrawn members' consents keep only kind, decision, version and time; sent notices (anyone's) go."""
    changed = _changed(
        session,
        update(Consent)
        .where(Consent.user_id.in_(_withdrawn_ids()), Consent.at < cutoff, Consent.detail != "")
        .values(detail=""),
    )
    return changed + _changed(session, delete(EmailMessage).where(EmailMessage.created_at < cutoff))


def anonymise_old_payment_records(session: Session, cutoff: datetime) -> int:
    """Withdrawn members' payments, refunds and cards keep only amounts, statuses and dates; webhooks go."""
    withdrawn = _withdrawn_ids()
    charges = (
        select(Charge.id)
        .join(Subscription, Charge.subscription_id == Subscription.id)
        .where(Subscription.user_id.in_(withdrawn))
    )
    orders = select(Order.id).where(Order.user_id.in_(withdrawn))
    attempts = select(Attempt.id).where(or_(Attempt.charge_id.in_(charges), Attempt.order_pk.in_(orders)))
    changed = _changed(
        session,
        update(Attempt)
        .where(
            Attempt.id.in_(attempts),
            Attempt.created_at < cutoff,
            or_(
                Attempt.payment_key.is_not(None),
                Attempt.receipt_url.is_not(None),
                Attempt.card_summary.is_not(None),
                Attempt.raw_response.is_not(None),
                Attempt.failure_message.is_not(None),
            ),
        )
        .values(payment_key=None, receipt_url=None, card_summary=None, raw_response=None, failure_message=None),
    )
    changed += _changed(
        session,
        update(Order)
        .where(
            Order.user_id.in_(withdrawn),
            Order.created_at < cutoff,
            or_(Order.payment_key.is_not(None), Order.receipt_url.is_not(None), Order.failure_message.is_not(None)),
        )
        .values(payment_key=None, receipt_url=None, failure_message=None),
    )
    changed += _changed(
        session,
        update(Refund)
        .where(
            Refund.attempt_id.in_(attempts),
            Refund.created_at < cutoff,
            or_(Refund.transaction_key.is_not(None), Refund.reason != "", Refund.failure_message.is_not(None)),
        )
        .values(transaction_key=None, reason="", failure_message=None),
    )
    changed += _changed(
        session,
        update(BillingKey)
        .where(
            BillingKey.user_id.in_(withdrawn),
            BillingKey.issued_at < cutoff,
            BillingKey.sealed.is_(None),
            or_(
                BillingKey.card_company != "",
                BillingKey.card_number_masked != "",
                BillingKey.customer_key != "",
                BillingKey.fingerprint.is_not(None),
            ),
        )
        .values(card_company="", card_number_masked="", customer_key="", fingerprint=None),
    )
    return changed + _changed(session, delete(WebhookEvent).where(WebhookEvent.received_at < cutoff))


def purge_access_log(session: Session, cutoff: datetime) -> int:
    """Access-log rows (every opening of a billing key) older than two years: storefront.audit's own purge."""
    return purge_audit_log(session, now=cutoff + relativedelta(years=RETENTION_YEARS))


def forget_signup_requests(session: Session, cutoff: datetime) -> int:
    """Sign-ups whose link expired unopened, or was used (the account holds the data now)."""
    return signup.forget_lapsed(session, now=cutoff)


def forget_reset_links(session: Session, cutoff: datetime) -> int:
    """비밀번호 찾기 links that expired (used or not) before the cutoff."""
    return reset.forget_links(session, expired_before=cutoff)


def forget_expired_sign_ins(session: Session, cutoff: datetime) -> int:
    """Sign-ins past their lifetime (the browser was never logged out)."""
    return sessions.forget_expired(session, now=cutoff)


def forget_login_failures(session: Session, cutoff: datetime) -> int:
    """Wrong-password counts with no new wrong password for a day (they count from zero anyway)."""
    return throttle.forget_old(session, before=cutoff)


# -- the table -------------------------------------------------------------------------------------

FIVE_YEARS = relativedelta(years=5)
THROTTLE_KEEP = relativedelta(seconds=int(throttle.FORGET_AFTER.total_seconds()))

RULES: tuple[Rule, ...] = (
    Rule(
        "member",
        "회원 정보(이름, 이메일, 휴대전화 번호, 비밀번호)",
        "탈퇴 시까지",
        "탈퇴하는 즉시 이름·이메일·휴대전화 번호·비밀번호를 지워 익명 처리합니다.",
        "계약의 이행",
        handled_by="billing/compliance/withdrawal.py delete_account, at the moment of 탈퇴",
    ),
    Rule(
        "signup_requests",
        "가입 확인을 기다리는 가입 신청(이름, 이메일, 휴대전화 번호, 비밀번호의 해시값)",
        "가입 확인 링크의 유효기간(24시간) 동안",
        "가입을 확인하면 회원 정보로 옮기고 신청은 삭제합니다. 확인하지 않은 신청은 유효기간이 끝나면 삭제합니다.",
        "회원가입 계약의 체결",
        step=forget_signup_requests,
    ),
    Rule(
        "sessions",
        "로그인 상태 정보(로그인한 브라우저마다 세션 값의 해시값과 로그인 시각)",
        "로그아웃할 때까지(최대 31일)",
        "로그아웃, 비밀번호 변경·재설정, 탈퇴 시 즉시 삭제하고, 로그아웃하지 않은 세션은 31일이 지나면 삭제합니다.",
        "계약의 이행",
        step=forget_expired_sign_ins,
    ),
    Rule(
        "password_resets",
        "비밀번호 찾기 링크(링크 값의 해시값, 발급·사용 시각)",
        "링크 유효기간(30분)이 끝난 뒤 1일",
        "사용 여부와 관계없이 삭제합니다.",
        "계약의 이행",
        keep=relativedelta(days=1),
        step=forget_reset_links,
    ),
    Rule(
        "login_throttles",
        "로그인 보호 기록(비밀번호를 틀린 횟수와 마지막 시각, 이메일 대신 해시값으로 저장)",
        "마지막으로 틀린 뒤 24시간",
        "삭제합니다.",
        "개인정보 보호법 제29조(안전조치의무)",
        keep=THROTTLE_KEEP,
        step=forget_login_failures,
    ),
    Rule(
        "withdrawn_contacts",
        "탈퇴한 회원의 연락처가 남은 기록(보낸 안내의 수신 주소·본문, 동의할 때 기록한 접속 IP)",
        "탈퇴 후 지체 없이(늦어도 5일 이내)",
        "수신 주소·본문·IP를 지우고, 아직 보내지 않은 안내는 "
        "보내지 않습니다. 거래 기록 자체는 아래 기간 동안 보관합니다.",
        "개인정보 보호법 제21조",
        step=forget_withdrawn_contacts,
    ),
    Rule(
        "contract",
        "계약 또는 청약철회 등에 관한 기록(주문·구독·동의·청약철회 기록, 보낸 계약·결제 안내)",
        "5년",
        "탈퇴한 회원의 기록은 기록일부터 5년이 지나면 동의 내용을 지워 익명 처리하고, 보낸 안내는 회원 여부와 관계없이 "
        "5년이 지나면 삭제합니다.",
        "전자상거래법 시행령 제6조",
        keep=FIVE_YEARS,
        step=anonymise_old_contract_records,
    ),
    Rule(
        "payment",
        "대금 결제 및 재화 등의 공급에 관한 기록(결제·환불 내역, 카드사명과 일부를 가린 카드번호, 매출전표 주소, "
        "토스페이먼츠의 결제 알림)",
        "5년",
        "탈퇴한 회원의 기록은 기록일부터 5년이 지나면 결제 키·카드 정보·매출전표 주소를 지워 금액과 날짜만 남기고, "
        "결제 알림은 5년이 지나면 삭제합니다.",
        "전자상거래법 시행령 제6조",
        keep=FIVE_YEARS,
        step=anonymise_old_payment_records,
    ),
    Rule(
        "complaints",
        "소비자의 불만 또는 분쟁 처리에 관한 기록(고객센터 전화·이메일 상담 기록)",
        "3년",
        "삭제합니다.",
        "전자상거래법 시행령 제6조",
        keep=relativedelta(years=3),
        handled_by="kept outside this site (the 고객센터 mailbox and call notes): the operator deletes them",
    ),
    Rule(
        "advertising",
        "표시·광고에 관한 기록",
        "6개월",
        "삭제합니다.",
        "전자상거래법 시행령 제6조",
        keep=relativedelta(months=6),
        handled_by="no personal data on this site: it sends no advertising and keeps no record of who saw one",
    ),
    Rule(
        "visits",
        "웹사이트 방문 기록(로그인 기록, 접속 IP)",
        "3개월",
        "접속 IP(동의할 때 기록한 IP 포함)를 지웁니다. 로그인 "
        "기록은 위의 로그인 상태 정보 외에 따로 저장하지 않습니다.",
        "통신비밀보호법 시행령 제41조",
        keep=relativedelta(months=3),
        step=forget_old_ips,
    ),
    Rule(
        "access_log",
        "개인정보처리시스템 접속기록(직원·시스템이 빌링키 등 개인정보를 열람·처리한 기록)",
        "2년",
        "삭제합니다.",
        "개인정보의 안전성 확보조치 기준 제8조",
        keep=relativedelta(years=RETENTION_YEARS),
        step=purge_access_log,
    ),
    Rule(
        "billing_key",
        "자동결제용 빌링키",
        "구독 종료, 카드 변경 또는 탈퇴 시까지",
        "지체 없이 삭제하고 토스페이먼츠에 빌링키 삭제를 요청합니다.",
        "계약의 이행",
        handled_by="billing/wallet/cards.py release_card_if_unused, and the hourly release_cards_job",
    ),
)


def apply_rules(session: Session, *, now: datetime) -> dict[str, int]:
    """Apply every rule that has a step, committing after each; how many rows each changed.

    A step that fails is rolled back and logged, and the others still run (the next day retries it).
    """
    changed: dict[str, int] = {}
    for rule in RULES:
        if rule.step is None:
            continue
        try:
            changed[rule.key] = rule.step(session, rule.cutoff(now))
            session.commit()
        except Exception:
            session.rollback()
            log.exception("retention rule %s failed; the next run tries again", rule.key)
    return changed
