"""Webhooks as Toss sends them: queued in SQLite, POSTed by a background thread, retried.

Events: PAYMENT_STATUS_CHANGED for one-time payments reaching DONE and for every cancel
(any payment type), BILLING_DELETED for a deleted billing key; nothing for a completed
billing charge (toss-api.md §8). A delivery succeeds on HTTP 200; otherwise it is retried
after 1, 4, 16, 64, 256, 1024 and 4096 minutes (7 retries, 8 attempts), each interval
divided by `webhook_time_factor`, all measured on the sandbox clock. `deliver_due()` is
serialised by a lock, so `POST /_sandbox/webhooks/flush` returning means every delivery
that was due has had its attempt, whether the thread or the flush made it.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from datetime import datetime, timedelta
from typing import Any
from collections.abc import Callable

import requests

from .clock import KST
from .settings import SandboxSettings
from .store import Store, iso, parse_iso

log = logging.getLogger(__name__)
RETRY_MINUTES = (1, 4, 16, 64, 256, 1024, 4096)
IDLE_POLL_SECONDS = 0.2


def event_created_at(now: datetime) -> str:
    """Toss's webhook createdAt: Korean time, microseconds, no offset."""
    return now.astimezone(KST).strftime("%Y-%m-%dT%H:%M:%S.%f")


class WebhookDispatcher:
    def __init__(self, store: Store, clock: Any, settings: Callable[[], SandboxSettings]) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self._deliver_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = requests.Session()

    def __repr__(self) -> str:
        return "<WebhookDispatcher>"

    # -------------------------------------------------------------- queueing

    def enqueue(self, event_type: str, data: dict[str, Any]) -> None:
        """Queue one event for the configured URL; no URL configured means no webhook."""
        url = self.settings().webhook_url
        if not url:
            return
        now = self.clock.now()
        payload = {"eventType": event_type, "createdAt": event_created_at(now), "data": data}
        with self.store.write() as conn:
            conn.execute(
                """INSERT INTO webhooks (transmission_id, event_type, url, payload, status, created_at, next_attempt_at)
                   VALUES (?, ?, ?, ?, 'pending', ?, ?)""",
                (
                    "whtrans_" + secrets.token_hex(12),
                    event_type,
                    url,
                    json.dumps(payload, ensure_ascii=False),
                    iso(now),
                    iso(now),
                ),
            )
        self._wake.set()

    # -------------------------------------------------------------- delivery

    def deliver_due(self, *, ignore_schedule: bool = False) -> int:
        """Attempt every pending delivery whose time has come; returns attempts made."""
        with self._deliver_lock:
            now = self.clock.now()
            with self.store.read() as conn:
                rows = conn.execute("SELECT * FROM webhooks WHERE status = 'pending' ORDER BY id").fetchall()
            due = [r for r in rows if ignore_schedule or parse_iso(r["next_attempt_at"]) <= now]
            for row in due:
                self._attempt(row)
            return len(due)

    def _attempt(self, row: Any) -> None:
        settings = self.settings()
        with self.store.read() as conn:
            retried = conn.execute(
                "SELECT COUNT(*) FROM webhook_attempts WHERE webhook_id = ?", (row["id"],)
            ).fetchone()[0]
        sent_at = self.clock.now()
        status_code, error = self._post(row, retried, sent_at, settings.webhook_timeout_ms / 1000.0)
        finished_at = self.clock.now()
        ok = status_code == 200
        if ok:
            status, next_at = "delivered", None
        elif retried >= len(RETRY_MINUTES):
            status, next_at = "failed", None
        else:
            delay = timedelta(minutes=RETRY_MINUTES[retried]) / settings.webhook_time_factor
            status, next_at = "pending", iso(finished_at + delay)
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO webhook_attempts (webhook_id, retried_count, attempted_at, status_code, error) "
                "VALUES (?, ?, ?, ?, ?)",
                (row["id"], retried, iso(sent_at), status_code, error),
            )
            conn.execute(
                "UPDATE webhooks SET status = ?, next_attempt_at = ? WHERE id = ?", (status, next_at, row["id"])
            )

    def _post(self, row: Any, retried: int, sent_at: datetime, timeout: float) -> tuple[int | None, str | None]:
        headers = {
            "Content-Type": "application/json",
            "tosspayments-webhook-transmission-time": sent_at.astimezone(KST).replace(microsecond=0).isoformat(),
            "tosspayments-webhook-transmission-retried-count": str(retried),
            "tosspayments-webhook-transmission-id": row["transmission_id"],
        }
        try:
            response = self._http.post(
                row["url"], data=row["payload"].encode("utf-8"), headers=headers, timeout=timeout
            )
        except requests.RequestException as exc:
            return None, type(exc).__name__
        response.close()
        return response.status_code, None

    def listing(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            hooks = conn.execute("SELECT * FROM webhooks ORDER BY id").fetchall()
            attempts = conn.execute("SELECT * FROM webhook_attempts ORDER BY id").fetchall()
        by_hook: dict[int, list[dict[str, Any]]] = {}
        for a in attempts:
            by_hook.setdefault(a["webhook_id"], []).append(
                {
                    "retriedCount": a["retried_count"],
                    "attemptedAt": a["attempted_at"],
                    "statusCode": a["status_code"],
                    "error": a["error"],
                }
            )
        return [
            {
                "id": h["id"],
                "transmissionId": h["transmission_id"],
                "eventType": h["event_type"],
                "url": h["url"],
                "status": h["status"],
                "createdAt": h["created_at"],
                "nextAttemptAt": h["next_attempt_at"],
                "payload": json.loads(h["payload"]),
                "attempts": by_hook.get(h["id"], []),
            }
            for h in hooks
        ]

    # -------------------------------------------------------------- thread

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._http.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # noqa: BLE001 - the thread must survive a bad row or a locked file
                log.exception("sandbox webhook delivery failed")
            self._wake.wait(self._idle_seconds())
            self._wake.clear()

    def _idle_seconds(self) -> float:
        """Sleep until the next delivery is due, but re-check often: the clock can be moved."""
        with self.store.read() as conn:
            row = conn.execute("SELECT MIN(next_attempt_at) FROM webhooks WHERE status = 'pending'").fetchone()
        if not row[0]:
            return IDLE_POLL_SECONDS
        wait = (parse_iso(row[0]) - self.clock.now()).total_seconds()
        return max(0.001, min(wait, IDLE_POLL_SECONDS))
