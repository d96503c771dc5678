"""The audit trail: written in the same transaction as the change it records, so neither exists without
the other; never updated or deleted (the database refuses that too)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.deps import Actor, Deps
from bot.services.permissions import require
from bot.services.results import AuditEntry
from bot.store.models import AuditEvent


def record(
    session: AsyncSession,
    deps: Deps,
    actor: Actor,
    action: str,
    target: str,
    *,
    outcome: str = "ok",
    task_alias: str | None = None,
    change_request_id: int | None = None,
    before: Any = None,
    after: Any = None,
    provider_request_id: str | None = None,
    detail: str = "",
) -> None:
    session.add(
        AuditEvent(
            at=deps.clock(),
            team_id=actor.team_id,
            actor=actor.user_id,
            action=action,
            target=target[:200],
            task_alias=task_alias,
            change_request_id=change_request_id,
            before=before,
            after=after,
            provider_request_id=provider_request_id,
            outcome=outcome,
            detail=detail,
        )
    )


async def list_audit(deps: Deps, actor: Actor, *, alias: str | None = None, limit: int = 50) -> list[AuditEntry]:
    """Admins only: the trail shows who holds which role and every configuration."""
    await require(deps, actor, "admin")
    query = (
        select(AuditEvent)
        .where(AuditEvent.team_id == actor.team_id)
        .order_by(AuditEvent.id.desc())
        .limit(max(1, min(limit, 1000)))
    )
    if alias is not None:
        query = query.where(AuditEvent.task_alias == alias)
    async with deps.sessions() as session:
        rows = (await session.scalars(query)).all()
    return [
        AuditEntry(
            id=e.id,
            at=e.at,
            team_id=e.team_id,
            actor=e.actor,
            action=e.action,
            target=e.target,
            task_alias=e.task_alias,
            change_request_id=e.change_request_id,
            before=e.before,
            after=e.after,
            provider_request_id=e.provider_request_id,
            outcome=e.outcome,
            detail=e.detail,
        )
        for e in rows
    ]
