"""What a rundown has people told: notices in the rundown's own lane (`rundown:<id>`), written with the move they
report (`bot.store.rundowns`), delivered in order like every notice. The rundown message itself (its cues, the
window, who approved it, the cue on air and the next one with its picture, the buttons) is redrawn from the store
whenever one of these is delivered, so it always shows the rundown as it is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain import NoticeKind
from bot.store.models import Notice


def notice(team_id: str, rundown_id: int | None, kind: NoticeKind, now: datetime, **payload: Any) -> Notice:
    return Notice(
        team_id=team_id,
        lane=f"rundown:{rundown_id}" if rundown_id is not None else "",
        kind=kind.value,
        change_request_id=None,
        payload={**payload, **({"rundown": rundown_id} if rundown_id is not None else {})},
        state="pending",
        attempts=0,
        created_at=now,
        next_at=now,
    )


def requested(team_id: str, rundown_id: int, now: datetime, *, epoch: int) -> list[Notice]:
    """The rundown message for this approval request, which opens its thread."""
    return [notice(team_id, rundown_id, NoticeKind.RUNDOWN_POST, now, epoch=epoch)]


def decided(team_id: str, rundown_id: int, now: datetime, *, by: str, what: str, reason: str = "") -> list[Notice]:
    """`what`: armed, rejected, expired, disarmed (edited) or deleted: said in the thread, the message redrawn."""
    return [notice(team_id, rundown_id, NoticeKind.RUNDOWN_DECIDED, now, by=by, what=what, reason=reason[:500])]


def cue_fired(team_id: str, rundown_id: int, now: datetime, *, by: str, overwritten: list[str]) -> list[Notice]:
    """A cue on air (the store adds its bulk and position): what it overwrote, in the thread; the message redrawn
    with the next cue's picture."""
    return [notice(team_id, rundown_id, NoticeKind.RUNDOWN_CUE, now, by=by, overwritten=overwritten[:50])]


def reminder(team_id: str, rundown_id: int, now: datetime) -> Notice:
    return notice(team_id, rundown_id, NoticeKind.RUNDOWN_REMINDER, now)


def schedule_missed(team_id: str, rundown_id: int, now: datetime, *, schedule_id: int, detail: str) -> Notice:
    return notice(team_id, rundown_id, NoticeKind.SCHEDULE_SETTLED, now, schedule=schedule_id, what="missed", detail=detail[:500])
