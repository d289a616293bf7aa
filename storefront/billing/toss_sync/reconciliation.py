"""Daily reconciliation (대사): one Korean day of Toss's transactions against our records.

`reconcile_day` reads every transaction Toss reports for the day (`GET /v1/transactions`,
page after page: approvals and cancels) and compares them with our Attempts (charges and
one-time orders), their Refunds and, through them, Charges and Orders:

- What Toss has and we lack is recorded the way a webhook would record it: a cancel we hold
  no Refund for (made in Toss's dashboard, or its PAYMENT_STATUS_CHANGED webhook never came)
  is read back with ``toss.get_payment`` and folded in with `refunds.sync_payment`, the
  function the webhook handler calls: the Refund row, the Charge becoming ``refunded`` or the
  Order ``canceled`` on a full cancel, and so the shopper's 내 구독 history; the shopper's email
  follows from the refund settle job (`refund_notices.announce`), once, as for a webhook. Each
  such record is an item with resolution ``recorded``.
- Anything else is flagged, never "fixed": an approval Toss has for an attempt we recorded
  as failed (``approved_not_recorded``) or have not settled yet (``unsettled_here``), a
  payment or cancel for an order we do not know (``unknown_at_us``), amounts that differ
  (``amount_differs``, ``refund_amount_differs``), a cancel that could not be recorded
  (``cancel_not_recorded``), and what we have that Toss lacks: a paid attempt of the day with
  no approved payment at Toss (``missing_at_toss``) or a done refund Toss shows no cancel for
  (``refund_missing_at_toss``). Before flagging "missing at Toss" the payment is looked up
  directly, so a transaction Toss filed under the neighbouring day is not a difference.
- Toss's settlements sold that day (`GET /v1/settlements`) are summed next to our revenue:
  sales minus cancels, Toss's fees, the payout and its date(s).

The result is one `Reconciliation` row per day and one `ReconciliationItem` per difference,
unique per (day, kind, ref). Running a day again finds the rows it made: nothing is recorded
twice (the refund now matches), no item is added, the counts come out the same; only
`last_run_at` moves. A flag a later run no longer finds gets `resolved_at`. If Toss cannot be
read the day is stored as ``failed`` with the reason, and the next run tries again.

Plain domain code: a session, a clock and a Toss client come in as arguments; it commits.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any, Protocol
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storefront.billing.refunding import refunds
from storefront.clock import KST
from storefront.models import Attempt, Reconciliation, ReconciliationItem, Refund
from storefront.toss.errors import Category, TossError

log = logging.getLogger(__name__)

APPROVED_STATUSES = ("DONE", "CANCELED", "PARTIAL_CANCELED")
PAGE_SIZE = 5_000

RECORDED = "recorded"
FLAGGED = "flagged"

# kind -> (resolution, what the merchant reads)
KINDS: dict[str, tuple[str, str]] = {
    "refund_recorded": (RECORDED, "토스페이먼츠의 취소 기록으로 환불을 기록했습니다"),
    "approved_not_recorded": (FLAGGED, "토스페이먼츠는 승인했지만 우리 기록은 결제 실패입니다"),
    "unsettled_here": (FLAGGED, "토스페이먼츠는 승인했지만 우리 기록은 아직 결과 미확인입니다"),
    "unknown_at_us": (FLAGGED, "우리 기록에 없는 주문번호의 거래입니다"),
    "amount_differs": (FLAGGED, "결제 금액이 다릅니다"),
    "refund_amount_differs": (FLAGGED, "환불 금액이 다릅니다"),
    "cancel_not_recorded": (FLAGGED, "토스페이먼츠의 취소를 기록하지 못했습니다"),
    "missing_at_toss": (FLAGGED, "우리는 결제 완료로 기록했지만 토스페이먼츠에 승인된 결제가 없습니다"),
    "refund_missing_at_toss": (FLAGGED, "우리는 환불 완료로 기록했지만 토스페이먼츠에 취소 기록이 없습니다"),
}


class Clock(Protocol):
    def now(self) -> datetime: ...


class ReconciliationFailed(Exception):
    """Toss could not be read; the day is stored as failed with this reason."""


@dataclass(frozen=True)
class Finding:
    kind: str
    ref: str
    order_id: str | None = None
    payment_key: str | None = None
    attempt_id: int | None = None
    refund_id: int | None = None
    toss_amount_won: int | None = None
    our_amount_won: int | None = None
    detail: str = ""

    @property
    def resolution(self) -> str:
        return KINDS[self.kind][0]

    @property
    def note(self) -> str:
        text = KINDS[self.kind][1]
        return f"{text}. {self.detail}" if self.detail else f"{text}."


@dataclass
class _Tally:
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    toss_approved: list[int] = field(default_factory=list)
    toss_canceled: list[int] = field(default_factory=list)
    unmatched_toss: set[str] = field(default_factory=set)  # transaction keys with an open flag

    def add(self, finding: Finding, *, toss_key: str | None = None) -> None:
        self.findings.setdefault((finding.kind, finding.ref), finding)
        if toss_key is not None and finding.resolution == FLAGGED:
            self.unmatched_toss.add(toss_key)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a Korean calendar day, as aware datetimes."""
    start = datetime.combine(day, time(0), tzinfo=KST)
    return start, start + timedelta(days=1)


def previous_day(now: datetime) -> date:
    """The Korean day before `now`'s: what the daily run reconciles (that day is complete)."""
    return now.astimezone(KST).date() - timedelta(days=1)


def reconcile_day(
    session: Session, day: date, *, toss: Any, clock: Clock, page_size: int = PAGE_SIZE
) -> Reconciliation:
    """Compare `day` (Asia/Seoul) with Toss, record what Toss has and we lack, flag the rest. Commits.

    Returns the day's Reconciliation row (status matched, differences or failed).
    """
    now = clock.now()
    start, end = day_bounds(day)
    try:
        transactions = list(toss.iter_transactions(start, end - timedelta(seconds=1), page_size=page_size))
    except TossError as exc:
        return _store_failure(
            session, day, now, f"토스페이먼츠 거래 조회 실패({exc.code}): 다음 실행에서 다시 확인합니다."
        )
    tally = _Tally()
    try:
        _compare_toss_side(session, transactions, tally, toss=toss, now=now)
        _compare_our_side(session, transactions, tally, start=start, end=end, toss=toss)
    except ReconciliationFailed as exc:
        session.rollback()
        # What was recorded from Toss before the failure is a fact worth keeping; flags are not final.
        return _store_failure(
            session, day, now, str(exc), [f for f in tally.findings.values() if f.resolution == RECORDED]
        )
    row = _store(session, day, now, tally, transactions, start=start, end=end)
    _read_settlements(session, row, toss=toss)
    session.commit()
    log.info(
        "reconciliation %s: %s, %s Toss transaction(s), %s matched, %s recorded, %s flagged",
        day,
        row.status,
        len(transactions),
        row.matched_count,
        row.recorded_count,
        row.flagged_count,
    )
    return row


# -- Toss's transactions against ours ----------------------------------------------------------------


def _compare_toss_side(session: Session, transactions: list[Any], tally: _Tally, *, toss: Any, now: datetime) -> None:
    attempts = _attempts_by_order(session, {t.order_id for t in transactions})
    cancels_by_payment: dict[str, list[Any]] = defaultdict(list)
    for t in transactions:
        if t.is_cancel:
            tally.toss_canceled.append(t.amount)
            cancels_by_payment[t.payment_key].append(t)
        else:
            tally.toss_approved.append(t.amount)
            _compare_approval(attempts.get(t.order_id), t, tally)
    for payment_key, cancels in cancels_by_payment.items():
        _compare_cancels(session, attempts.get(cancels[0].order_id), payment_key, cancels, tally, toss=toss, now=now)


def _compare_approval(attempt: Attempt | None, t: Any, tally: _Tally) -> None:
    common = dict(order_id=t.order_id, payment_key=t.payment_key, toss_amount_won=t.amount)
    if attempt is None:
        tally.add(Finding("unknown_at_us", t.transaction_key, **common, detail="승인 거래"), toss_key=t.transaction_key)
        return
    common.update(attempt_id=attempt.id, our_amount_won=attempt.amount_won)
    if attempt.status == "done":
        if attempt.amount_won != t.amount:
            tally.add(Finding("amount_differs", t.transaction_key, **common), toss_key=t.transaction_key)
        return
    if attempt.status == "failed":
        detail = f"우리 기록의 실패 사유: {attempt.failure_code or '-'}"
        tally.add(
            Finding("approved_not_recorded", t.transaction_key, **common, detail=detail), toss_key=t.transaction_key
        )
        return
    detail = (
        "결과 미확인 결제 확인 작업이 확정합니다."
        if attempt.status == "unknown"
        else f"우리 기록 상태: {attempt.status}"
    )
    tally.add(Finding("unsettled_here", t.transaction_key, **common, detail=detail), toss_key=t.transaction_key)


def _compare_cancels(
    session: Session,
    attempt: Attempt | None,
    payment_key: str,
    cancels: list[Any],
    tally: _Tally,
    *,
    toss: Any,
    now: datetime,
) -> None:
    if attempt is None:
        for t in cancels:
            tally.add(
                Finding(
                    "unknown_at_us",
                    t.transaction_key,
                    order_id=t.order_id,
                    payment_key=payment_key,
                    toss_amount_won=t.amount,
                    detail="취소 거래",
                ),
                toss_key=t.transaction_key,
            )
        return
    before = _refund_statuses(session, attempt.id)
    missing = [t for t in cancels if _refund_by_key(session, attempt.id, t.transaction_key) is None]
    lookup_error = None
    if missing and attempt.status == "done":
        lookup_error = _sync_from_toss(session, attempt, toss=toss, now=now)
    for t in cancels:
        common = dict(order_id=t.order_id, payment_key=payment_key, attempt_id=attempt.id, toss_amount_won=t.amount)
        refund = _refund_by_key(session, attempt.id, t.transaction_key)
        if refund is None:
            detail = lookup_error or (
                f"결제 시도 상태가 {attempt.status}입니다."
                if attempt.status != "done"
                else "진행 중인 환불 요청이 있어 다음 실행에서 다시 확인합니다."
            )
            tally.add(
                Finding("cancel_not_recorded", t.transaction_key, **common, detail=detail), toss_key=t.transaction_key
            )
            continue
        common.update(refund_id=refund.id, our_amount_won=refund.amount_won)
        if before.get(refund.id) != "done":  # created, or settled from pending, by this run's sync
            tally.add(
                Finding(
                    "refund_recorded",
                    t.transaction_key,
                    **common,
                    detail=f"환불 #{refund.id} {refund.amount_won:,}원 ({refund.reason})",
                )
            )
        if refund.amount_won != t.amount:
            tally.add(Finding("refund_amount_differs", t.transaction_key, **common), toss_key=t.transaction_key)


def _sync_from_toss(session: Session, attempt: Attempt, *, toss: Any, now: datetime) -> str | None:
    """What the PAYMENT_STATUS_CHANGED webhook does: re-fetch the payment, fold its cancels in. Commits."""
    try:
        payment = toss.get_payment(attempt.payment_key)
    except TossError as exc:
        if exc.category is Category.NOT_FOUND:
            return "토스페이먼츠에서 결제를 찾을 수 없습니다."
        raise ReconciliationFailed(f"토스페이먼츠 결제 조회 실패({exc.code}): 다음 실행에서 다시 확인합니다.") from None
    if payment.order_id != attempt.order_id:
        return "조회한 결제의 주문번호가 결제 시도와 다릅니다."
    result = refunds.sync_payment(session, attempt, payment, now=now)
    session.commit()
    log.info(
        "reconciliation: order %s synced from Toss (%s settled, %s created, charge refunded: %s)",
        attempt.order_id,
        result.settled,
        result.created,
        result.charge_refunded,
    )
    return None


# -- our records against Toss's -----------------------------------------------------------------------


def _compare_our_side(
    session: Session, transactions: list[Any], tally: _Tally, *, start: datetime, end: datetime, toss: Any
) -> None:
    approved_orders = {t.order_id for t in transactions if not t.is_cancel}
    cancel_keys = {t.transaction_key for t in transactions if t.is_cancel}
    for attempt in _paid_attempts(session, start, end):
        if attempt.order_id not in approved_orders:
            _check_missing_payment(attempt, tally, toss=toss)
    for refund in _done_refunds(session, start, end):
        if refund.transaction_key not in cancel_keys:
            _check_missing_cancel(refund, tally, toss=toss)


def _check_missing_payment(attempt: Attempt, tally: _Tally, *, toss: Any) -> None:
    finding = partial(
        Finding,
        order_id=attempt.order_id,
        payment_key=attempt.payment_key,
        attempt_id=attempt.id,
        our_amount_won=attempt.amount_won,
    )
    try:
        payment = toss.get_payment_by_order_id(attempt.order_id)
    except TossError as exc:
        if exc.category is not Category.NOT_FOUND:
            raise ReconciliationFailed(
                f"토스페이먼츠 결제 조회 실패({exc.code}): 다음 실행에서 다시 확인합니다."
            ) from None
        tally.add(finding("missing_at_toss", attempt.order_id, detail="주문번호로 조회한 결제가 없습니다."))
        return
    if payment.status not in APPROVED_STATUSES:
        tally.add(
            finding(
                "missing_at_toss",
                attempt.order_id,
                toss_amount_won=payment.total_amount,
                detail=f"토스페이먼츠 상태: {payment.status}",
            )
        )
    elif payment.total_amount != attempt.amount_won:
        tally.add(finding("amount_differs", attempt.order_id, toss_amount_won=payment.total_amount))
    # else: approved at Toss, filed under another day there; that day's run compares it


def _check_missing_cancel(refund: Refund, tally: _Tally, *, toss: Any) -> None:
    attempt = refund.attempt
    finding = partial(
        Finding,
        order_id=attempt.order_id,
        payment_key=attempt.payment_key,
        attempt_id=attempt.id,
        refund_id=refund.id,
        our_amount_won=refund.amount_won,
    )
    try:
        payment = toss.get_payment(attempt.payment_key)
    except TossError as exc:
        if exc.category is not Category.NOT_FOUND:
            raise ReconciliationFailed(
                f"토스페이먼츠 결제 조회 실패({exc.code}): 다음 실행에서 다시 확인합니다."
            ) from None
        payment = None
    cancel = next(
        (c for c in (payment.cancels if payment else ()) if c.transaction_key == refund.transaction_key), None
    )
    ref = refund.transaction_key or f"refund-{refund.id}"
    if cancel is None:
        tally.add(finding("refund_missing_at_toss", ref, detail=f"환불 #{refund.id}"))
    elif cancel.cancel_amount != refund.amount_won:
        tally.add(finding("refund_amount_differs", ref, toss_amount_won=cancel.cancel_amount))


# -- storing ------------------------------------------------------------------------------------------


def _store(
    session: Session,
    day: date,
    now: datetime,
    tally: _Tally,
    transactions: list[Any],
    *,
    start: datetime,
    end: datetime,
) -> Reconciliation:
    row = _day_row(session, day, now)
    existing = {(item.kind, item.ref): item for item in row.items}
    for key, finding in tally.findings.items():
        item = existing.get(key)
        if item is None:
            row.items.append(_item(finding, now))
        elif item.resolved_at is not None:
            item.resolved_at = None  # found again
    for key, item in existing.items():
        if item.resolution == FLAGGED and item.resolved_at is None and key not in tally.findings:
            item.resolved_at = now
    paid = _paid_attempts(session, start, end)
    done = _done_refunds(session, start, end)
    row.toss_approved_count, row.toss_approved_won = len(tally.toss_approved), sum(tally.toss_approved)
    row.toss_canceled_count, row.toss_canceled_won = len(tally.toss_canceled), sum(tally.toss_canceled)
    row.our_paid_count, row.our_paid_won = len(paid), sum(a.amount_won for a in paid)
    row.our_refunded_count, row.our_refunded_won = len(done), sum(r.amount_won for r in done)
    row.matched_count = len(transactions) - len(tally.unmatched_toss)
    row.recorded_count = sum(1 for item in row.items if item.resolution == RECORDED)
    row.flagged_count = sum(1 for item in row.items if item.resolution == FLAGGED and item.resolved_at is None)
    row.status = "differences" if row.flagged_count else ("recorded" if row.recorded_count else "matched")
    row.error = None
    row.last_run_at = now
    return row


def _store_failure(
    session: Session, day: date, now: datetime, reason: str, recorded: Iterable[Finding] = ()
) -> Reconciliation:
    row = _day_row(session, day, now)
    known = {(item.kind, item.ref) for item in row.items}
    for finding in recorded:
        if (finding.kind, finding.ref) not in known:
            row.items.append(_item(finding, now))
    row.recorded_count = sum(1 for item in row.items if item.resolution == RECORDED)
    row.status, row.error, row.last_run_at = "failed", reason[:500], now
    session.commit()
    log.warning("reconciliation %s failed: %s", day, reason)
    return row


def _day_row(session: Session, day: date, now: datetime) -> Reconciliation:
    row = session.scalar(select(Reconciliation).where(Reconciliation.day == day))
    if row is not None:
        return row
    row = Reconciliation(
        day=day, status="failed", first_run_at=now, last_run_at=now, payout_dates="", settlement_note=""
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # another run created the day at the same moment
        session.rollback()
        row = session.scalar(select(Reconciliation).where(Reconciliation.day == day))
        assert row is not None
    return row


def _item(finding: Finding, now: datetime) -> ReconciliationItem:
    return ReconciliationItem(
        kind=finding.kind,
        resolution=finding.resolution,
        ref=finding.ref[:200],
        order_id=finding.order_id,
        payment_key=finding.payment_key,
        attempt_id=finding.attempt_id,
        refund_id=finding.refund_id,
        toss_amount_won=finding.toss_amount_won,
        our_amount_won=finding.our_amount_won,
        note=finding.note[:500],
        found_at=now,
    )


def _read_settlements(session: Session, row: Reconciliation, *, toss: Any) -> None:
    """Toss's settlements sold on the day: sales minus cancels, fees, payout and its date(s)."""
    try:
        settlements = list(toss.iter_settlements(row.day, row.day))
    except TossError as exc:
        row.settlement_note = f"정산 조회 실패({exc.code}): 다음 실행에서 다시 조회합니다."[:300]
        return
    row.settlement_count = len(settlements)
    row.settlement_amount_won = sum(s.amount for s in settlements)
    row.settlement_fee_won = sum(s.fee + s.interest_fee for s in settlements)
    row.settlement_payout_won = sum(s.pay_out_amount for s in settlements)
    row.payout_dates = ",".join(sorted({s.paid_out_date.isoformat() for s in settlements if s.paid_out_date}))
    row.settlement_note = (
        "" if settlements else "토스페이먼츠의 정산 내역이 아직 없습니다 (테스트 결제는 정산되지 않습니다)."
    )


# -- queries ------------------------------------------------------------------------------------------


def _attempts_by_order(session: Session, order_ids: set[str]) -> dict[str, Attempt]:
    """Our attempts for Toss's orderIds (unique, indexed), 500 to a query."""
    found: dict[str, Attempt] = {}
    ordered = sorted(order_ids)
    for i in range(0, len(ordered), 500):
        found.update(
            (a.order_id, a) for a in session.scalars(select(Attempt).where(Attempt.order_id.in_(ordered[i : i + 500])))
        )
    return found


def _refund_statuses(session: Session, attempt_id: int) -> dict[int, str]:
    return dict(session.execute(select(Refund.id, Refund.status).where(Refund.attempt_id == attempt_id)).tuples().all())


def _refund_by_key(session: Session, attempt_id: int, transaction_key: str) -> Refund | None:
    return session.scalar(
        select(Refund).where(
            Refund.attempt_id == attempt_id, Refund.status == "done", Refund.transaction_key == transaction_key
        )
    )


def _paid_attempts(session: Session, start: datetime, end: datetime) -> list[Attempt]:
    return list(
        session.scalars(
            select(Attempt)
            .where(Attempt.status == "done", Attempt.approved_at >= start, Attempt.approved_at < end)
            .order_by(Attempt.id)
        )
    )


def _done_refunds(session: Session, start: datetime, end: datetime) -> list[Refund]:
    return list(
        session.scalars(
            select(Refund)
            .where(Refund.status == "done", Refund.created_at >= start, Refund.created_at < end)
            .order_by(Refund.id)
        )
    )


def day_items(session: Session, day: date) -> list[ReconciliationItem]:
    row = session.scalar(select(Reconciliation).where(Reconciliation.day == day))
    return list(row.items) if row is not None else []
