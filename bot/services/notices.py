"""What each step of a change has people told, as notices the store writes in the same transaction as the
step: nothing is said that did not happen, and nothing that happened goes unsaid because Slack was down.

A request that is one task of a bulk change (`bulk_id` set) says nothing of its own: its verdict (or its end)
is a progress notice in the bulk's lane (`bot.services.bulk_notices`), and the bulk says the rest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain import NoticeKind
from bot.services import bulk_notices
from bot.store.models import ChangeRequest, Notice
from bot.store.outbox import lane_of


def _notice(req: ChangeRequest, kind: NoticeKind, now: datetime, **payload: Any) -> Notice:
    return Notice(
        team_id=req.team_id,
        lane=lane_of(req.id) if req.id is not None else "",
        kind=kind.value,
        change_request_id=req.id,
        payload=payload,
        state="pending",
        attempts=0,
        created_at=now,
        next_at=now,
    )


def _in_bulk(req: ChangeRequest, now: datetime) -> list[Notice]:
    return [bulk_notices.progress(req.team_id, req.bulk_id, [req.id], now)] if req.bulk_id is not None else []


def proposed(req: ChangeRequest, now: datetime, *, preview: bool) -> list[Notice]:
    if req.bulk_id is not None:
        return []
    found = [_notice(req, NoticeKind.POST, now)]
    if preview:
        found.append(_notice(req, NoticeKind.PREVIEW, now))
    if req.state == "pending":
        found.append(_notice(req, NoticeKind.WAITING, now))
    return found


def decided(req: ChangeRequest, now: datetime, *, by: str, what: str) -> list[Notice]:
    """`what`: approved, rejected, cancelled or unlocked."""
    if req.bulk_id is not None:
        return _in_bulk(req, now)
    return [_notice(req, NoticeKind.DECIDED, now, by=by, what=what), _notice(req, NoticeKind.PARENT, now)]


def ended(req: ChangeRequest, now: datetime, *, reason: str) -> list[Notice]:
    if req.bulk_id is not None:
        return _in_bulk(req, now)
    return [_notice(req, NoticeKind.ENDED, now, reason=reason[:1000]), _notice(req, NoticeKind.PARENT, now)]


def applying(req: ChangeRequest, now: datetime) -> list[Notice]:
    if req.bulk_id is not None:
        return []
    return [_notice(req, NoticeKind.APPLYING, now), _notice(req, NoticeKind.PARENT, now)]


def resending(req: ChangeRequest, now: datetime, *, cause: str) -> list[Notice]:
    if req.bulk_id is not None:
        return []
    return [_notice(req, NoticeKind.RESENDING, now, cause=cause[:500]), _notice(req, NoticeKind.PARENT, now)]


def verdict(req: ChangeRequest, now: datetime, *, recovered: bool = False) -> list[Notice]:
    if req.bulk_id is not None:
        return _in_bulk(req, now)
    found = [_notice(req, NoticeKind.RECOVERED, now)] if recovered else []
    found += [_notice(req, kind, now) for kind in (NoticeKind.OUTCOME, NoticeKind.PARENT, NoticeKind.NOTIFY)]
    return found


def undeliverable(req: ChangeRequest, now: datetime, *, channel: str, error: str) -> list[Notice]:
    notice = _notice(req, NoticeKind.UNDELIVERABLE, now, channel=channel, error=error[:200])
    notice.lane = f"direct:{req.id}"
    return [notice]


def break_glass(req: ChangeRequest, now: datetime) -> list[Notice]:
    """Loud, in the task's notification channel, when it is applied without a second person."""
    return [_notice(req, NoticeKind.BREAK_GLASS, now)]


def reminder(req: ChangeRequest, now: datetime) -> list[Notice]:
    """The approvers once more, in the thread, at half the request's lifetime."""
    return [_notice(req, NoticeKind.REMINDER, now)]


def schedule_settled(req: ChangeRequest, now: datetime, *, schedule_id: int, what: str, detail: str) -> list[Notice]:
    """`what`: fired or missed; said in the request's thread (a bulk says it once, in its own)."""
    if req.bulk_id is not None:
        return []
    return [_notice(req, NoticeKind.SCHEDULE_SETTLED, now, schedule=schedule_id, what=what, detail=detail[:500])]
