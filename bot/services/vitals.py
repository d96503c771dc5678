"""What the database says about the bot's health, read for /metrics and /readyz: changes by state, the age of the
oldest request in each open state, and the outbox (Slack's and the audit webhook's)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from bot.domain import ChangeState
from bot.services import outbox
from bot.services.deps import Deps
from bot.store.models import ChangeRequest

_SINCE = {
    ChangeState.PENDING: ChangeRequest.created_at,
    ChangeState.APPROVED: ChangeRequest.decided_at,
    ChangeState.APPLYING: ChangeRequest.applying_at,
}
"""What an open request's age is counted from: proposed, approved (or proposed, when it needed no approval),
began applying."""


@dataclass(frozen=True)
class Vitals:
    changes: dict[str, int]
    oldest_open: dict[str, float]
    outbox: dict[str, tuple[int, float]]


async def read(deps: Deps) -> Vitals:
    now = deps.clock()
    async with deps.sessions() as session:
        counts = (await session.execute(select(ChangeRequest.state, func.count()).group_by(ChangeRequest.state))).all()
        oldest: dict[str, float] = {}
        for state, column in _SINCE.items():
            first = await session.scalar(
                select(func.min(func.coalesce(column, ChangeRequest.created_at))).where(ChangeRequest.state == state)
            )
            oldest[state.value] = 0.0 if first is None else max(0.0, (now - first).total_seconds())
    return Vitals(
        changes={ChangeState(state).value: int(n) for state, n in counts},
        oldest_open=oldest,
        outbox={"slack": await outbox.backlog(deps), "audit_webhook": await outbox.backlog(deps, webhook=True)},
    )
