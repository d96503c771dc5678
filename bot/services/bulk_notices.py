"""What a bulk change has people told: notices in the bulk's own lane (`bulk:<id>`), written with the step they
report, like every notice (`bot.services.notices`).

The tasks of a bulk say nothing on their own: a hundred requests must not make a hundred messages. Each verdict
writes one BULK_PROGRESS notice naming the requests it settled (a batch of accepted answers writes one for the
batch); they are due at the next whole second, so the deliverer finds a second's worth together, posts their
outcomes as one thread message and updates the progress bar once: about once a second, whatever the rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain import NoticeKind
from bot.store.models import Notice

THROTTLE_SECONDS = 1.0


def notice(
    team_id: str, bulk_id: int | None, kind: NoticeKind, now: datetime, *, due: datetime | None = None, **payload: Any
) -> Notice:
    """A bulk-lane notice; the store sets the lane and the bulk id when the bulk has none yet (a proposal)."""
    return Notice(
        team_id=team_id,
        lane=f"bulk:{bulk_id}" if bulk_id is not None else "",
        kind=kind.value,
        change_request_id=None,
        payload={**payload, **({"bulk": bulk_id} if bulk_id is not None else {})},
        state="pending",
        attempts=0,
        created_at=now,
        next_at=due or now,
    )


def next_second(now: datetime) -> datetime:
    """The next whole second of the epoch (UTC): every progress notice written within one second is due then."""
    stamp = now.timestamp()
    return datetime.fromtimestamp(math.floor(stamp) + THROTTLE_SECONDS, UTC) if stamp % 1 else now + timedelta(seconds=1)


def progress(team_id: str, bulk_id: int, request_ids: Iterable[int], now: datetime) -> Notice:
    return notice(team_id, bulk_id, NoticeKind.BULK_PROGRESS, now, due=next_second(now), ids=sorted(request_ids))


def proposed(team_id: str, now: datetime, *, pictures: int, waiting: bool) -> list[Notice]:
    found = [notice(team_id, None, NoticeKind.BULK_POST, now)]
    found += [notice(team_id, None, NoticeKind.BULK_PREVIEW, now, picture=i) for i in range(pictures)]
    if waiting:
        found.append(notice(team_id, None, NoticeKind.BULK_WAITING, now))
    return found


def decided(team_id: str, bulk_id: int | None, now: datetime, *, by: str, what: str, reason: str = "") -> list[Notice]:
    """`what`: approved, rejected, cancelled, expired or stale; the parent message is redrawn with it."""
    return [notice(team_id, bulk_id, NoticeKind.BULK_DECIDED, now, by=by, what=what, reason=reason[:1000])]


def finished(team_id: str, bulk_id: int, now: datetime) -> Notice:
    return notice(team_id, bulk_id, NoticeKind.BULK_NOTIFY, now, due=next_second(now))


def reminder(team_id: str, bulk_id: int, now: datetime) -> Notice:
    return notice(team_id, bulk_id, NoticeKind.BULK_REMINDER, now)


def schedule_settled(team_id: str, bulk_id: int, now: datetime, *, schedule_id: int, what: str, detail: str) -> Notice:
    return notice(team_id, bulk_id, NoticeKind.SCHEDULE_SETTLED, now, schedule=schedule_id, what=what, detail=detail[:500])


def break_glass(team_id: str, now: datetime) -> Notice:
    return notice(team_id, None, NoticeKind.BULK_BREAK_GLASS, now)
