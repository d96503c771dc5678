"""The rows that promise a change, bulk change or cue at a time: made with what they are for, in its
transaction (kept by `bot.services.schedules`)."""

from __future__ import annotations

from datetime import datetime

from bot.domain import ScheduleState
from bot.services.deps import Actor
from bot.services.when import Timing
from bot.store.models import ChangeRequest, Rundown, Schedule


def _new(actor: Actor, timing: Timing, what: str, summary: str, now: datetime) -> Schedule:
    assert timing.at is not None
    return Schedule(
        team_id=actor.team_id,
        created_by=actor.user_id,
        created_at=now,
        fire_at=timing.at,
        tz=(timing.tz or "UTC")[:64],
        what=what,
        summary=summary[:300],
        state=ScheduleState.WAITING,
    )


def for_change(actor: Actor, req: ChangeRequest, timing: Timing, *, summary: str) -> Schedule:
    return _new(actor, timing, "change", summary, req.created_at)


def for_bulk(actor: Actor, timing: Timing, *, summary: str, now: datetime) -> Schedule:
    return _new(actor, timing, "bulk", summary, now)


def for_cue(actor: Actor, timing: Timing, rundown: Rundown, position: int, now: datetime) -> Schedule:
    row = _new(actor, timing, "cue", f"cue {position} of {rundown.name}", now)
    row.rundown_id, row.rundown_epoch, row.cue_position = rundown.id, rundown.epoch, position
    return row
