"""Audit events posted to a SIEM (RTCOPS_AUDIT_WEBHOOK) as signed JSON, retried through the outbox.

Each audit event gets a webhook notice in the transaction that writes it (`bot.store.audit_feed`); this deliverer
claims them one at a time in the order they were written (one lane) and posts each event's JSON with
`X-Rtcops-Signature: sha256=<hex HMAC-SHA256 of the body under RTCOPS_AUDIT_WEBHOOK_KEY>`. A 2xx answer delivers
it; anything else (another status, no answer) retries it with backoff, holding the events after it back, so the
receiver gets every event at least once and in order (it de-duplicates by `id`). It is a deliverer of its own, not
the Slack one: it shares the outbox's claims and retries but nothing Slack-specific, and a SIEM that is down
holds back only its own lane and never shows in Slack's outbox age (/readyz).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import httpx
from sqlalchemy import select

from bot import metrics
from bot.services import audit, outbox
from bot.services.deps import Deps
from bot.services.outbox import Pending
from bot.store.models import AuditEvent

log = logging.getLogger("rtcops.audit_webhook")
SIGNATURE_HEADER = "X-Rtcops-Signature"
TIMEOUT_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 300.0


def sign(key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class AuditWebhook:
    def __init__(self, deps: Deps, url: str, key: str, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._deps = deps
        self._url = url
        self._key = key
        self._http = httpx.AsyncClient(timeout=TIMEOUT_SECONDS, transport=transport, follow_redirects=False)

    async def deliver_due(self) -> int:
        """Posts what is due, one event after another; returns how many were delivered."""
        delivered = 0
        while True:
            claimed = await outbox.claim(self._deps, limit=1, webhook=True)
            if not claimed:
                return delivered
            if not await self._deliver(claimed[0]):
                return delivered
            delivered += 1

    async def _deliver(self, notice: Pending) -> bool:
        async with self._deps.sessions() as session:
            event = await session.scalar(select(AuditEvent).where(AuditEvent.id == notice.audit_event_id))
        if event is None:
            await outbox.dropped(self._deps, notice.id, "no such audit event")
            return True
        body = json.dumps(audit.record_of(audit.entry(event)), ensure_ascii=False, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._key, body),
            "X-Rtcops-Event-Id": str(event.id),
        }
        try:
            answer = await self._http.post(self._url, content=body, headers=headers)
            error = None if answer.is_success else f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        if error is None:
            metrics.AUDIT_WEBHOOK_DELIVERIES.labels("ok").inc()
            await outbox.delivered(self._deps, notice.id)
            return True
        metrics.AUDIT_WEBHOOK_DELIVERIES.labels("retry").inc()
        wait = min(BACKOFF_MAX_SECONDS, 2.0 ** min(notice.attempts, 9))
        log.warning("audit event %s not taken by the webhook (%s); again in %.0f s", event.id, error, wait)
        await outbox.later(self._deps, notice.id, seconds=wait, error=error)
        return False

    async def aclose(self) -> None:
        await self._http.aclose()
