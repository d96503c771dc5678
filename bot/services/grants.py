"""Granting and revoking roles. Only admins grant, never above their own role nor outside their own scope,
and every grant and revoke is audited in the same transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput, NotFound, PermissionDenied
from bot.services.permissions import (
    GLOBAL,
    Role,
    Scoped,
    Target,
    active_grants,
    is_bootstrap_admin,
    parse_scope,
    require,
    require_somewhere,
    scope_covers,
    scope_matches,
    unknown_task,
)
from bot.services.results import Access, GrantInfo
from bot.services.tasks import load_authorized, task_scope
from bot.store.models import Grant, Task

_USER = re.compile(r"^(?:<@)?([UW][A-Z0-9]{2,31})(?:\|[^>]*)?>?$")
_GROUP = re.compile(r"^(?:<!subteam\^)?(S[A-Z0-9]{2,31})(?:\|[^>]*)?>?$")


@dataclass(frozen=True)
class Subject:
    type: str  # user | group
    id: str


def parse_subject(text: str) -> Subject:
    """Accepts a raw ID (U…, W…, S…) or Slack's mention syntax (<@U…>, <!subteam^S…|@name>)."""
    text = text.strip()
    if m := _USER.match(text):
        return Subject("user", m.group(1))
    if m := _GROUP.match(text):
        return Subject("group", m.group(1))
    raise BadInput(f"{text!r} is not a Slack user or user group: mention them (@name) or give the ID (U…, S…)")


def _info(g: Grant) -> GrantInfo:
    return GrantInfo(
        id=g.id,
        team_id=g.team_id,
        subject_type=g.subject_type,
        subject_id=g.subject_id,
        role=g.role,
        scope=g.scope,
        granted_by=g.granted_by,
        created_at=g.created_at,
        expires_at=g.expires_at,
    )


async def _scope_target(session: AsyncSession, team_id: str, scope: str) -> tuple[Scoped | None, bool]:
    """What a grant in this scope would reach, for matching the grantor's own grants against it, and
    whether the scope names a task that does not exist (said only once the grantor passed the check)."""
    kind, _, value = scope.partition(":")
    if kind == "provider":
        return Target("", value), False
    if kind == "tag":
        return Target("", "", (value,)), False
    if kind != "task":
        return None, False
    task = await session.scalar(select(Task).where(Task.team_id == team_id, Task.alias == value))
    if task is None:
        return unknown_task(value), True
    return Target(task.alias, task.provider, tuple(task.tags or ())), False


async def _check_grantor(deps: Deps, actor: Actor, role: Role, scope: str, verb: str) -> None:
    """An admin grants or revokes only at or below their role, within a scope their admin grant covers.

    Runs in its own read session, before the write transaction: on SQLite a second connection opened
    while a writer holds the lock would wait for it forever.
    """
    async with deps.sessions() as session:
        target, missing = await _scope_target(session, actor.team_id, scope)
    await require(deps, actor, "admin", target)
    if missing:
        raise BadInput(f"no task called {scope.partition(':')[2]!r} for scope {scope}")
    if actor.system or is_bootstrap_admin(deps.settings, actor):
        return
    task_target = target if scope.startswith("task:") else None
    async with deps.sessions() as session:
        grants = await active_grants(session, actor, deps.clock())
    held = [g for g in grants if scope_covers(g.scope, scope, task_target)]
    top = max((Role.parse(g.role) for g in held), default=None)
    if top is None or top < Role.ADMIN:
        raise PermissionDenied(verb, f"your admin role does not cover {scope}", Role.ADMIN.label)
    if role > top:
        raise PermissionDenied(verb, f"you cannot {verb} {role.label}, above your own role {top.label}", role.label)


def _article(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _until(expires_at: datetime | None) -> str:
    return f"until {expires_at.isoformat()}" if expires_at else "no expiry"


def _grant_audit(level: Role, where: str, expires_at: datetime | None) -> dict[str, Any]:
    return {"role": level.label, "scope": where, "expires_at": expires_at.isoformat() if expires_at else None}


def _scope_alias(where: str) -> str | None:
    return where.partition(":")[2] if where.startswith("task:") else None


async def grant(
    deps: Deps,
    actor: Actor,
    subject: str | Subject,
    role: str | Role,
    scope: str | None = None,
    *,
    expires_at: datetime | None = None,
) -> GrantInfo:
    """Granting what the subject already holds (same role and scope) sets the new expiry on that grant
    instead of adding a second one, so that one revoke always takes it back."""
    who = parse_subject(subject) if isinstance(subject, str) else subject
    level = Role.parse(role) if isinstance(role, str) else role
    where = parse_scope(scope)
    now = deps.clock()
    if expires_at is not None and expires_at <= now:
        raise BadInput("the expiry is in the past")
    await _check_grantor(deps, actor, level, where, "grant")
    async with deps.sessions.begin() as session:
        same = (await session.scalars(_same_grants(actor.team_id, who, level, where).order_by(Grant.id))).all()
        if same:
            row, before = same[0], same[0].expires_at
            for extra in same[1:]:  # duplicates written before grants were merged
                await session.delete(extra)
            row.expires_at, row.granted_by = expires_at, actor.user_id
            action, detail = "grant.update", f"{level.label} on {where}: {_until(before)} -> {_until(expires_at)}"
            audit_before: dict[str, Any] | None = _grant_audit(level, where, before)
        else:
            row = Grant(
                team_id=actor.team_id,
                subject_type=who.type,
                subject_id=who.id,
                role=level.label,
                scope=where,
                granted_by=actor.user_id,
                created_at=now,
                expires_at=expires_at,
            )
            session.add(row)
            action, detail, audit_before = "grant", f"{level.label} on {where}, {_until(expires_at)}", None
        await session.flush()
        audit.record(
            session,
            deps,
            actor,
            action,
            f"{who.type}:{who.id}",
            task_alias=_scope_alias(where),
            before=audit_before,
            after=_grant_audit(level, where, expires_at),
            detail=detail,
        )
        return _info(row)


def _same_grants(team_id: str, who: Subject, level: Role, where: str) -> Select[Grant]:
    return select(Grant).where(
        Grant.team_id == team_id,
        Grant.subject_type == who.type,
        Grant.subject_id == who.id,
        Grant.role == level.label,
        Grant.scope == where,
    )


async def revoke(deps: Deps, actor: Actor, subject: str | Subject, role: str | Role, scope: str | None = None) -> int:
    """Removes the subject's grant of exactly that role and scope (expired or not); returns how many rows
    went, which is 1 unless duplicates from before grants were merged remained."""
    who = parse_subject(subject) if isinstance(subject, str) else subject
    level = Role.parse(role) if isinstance(role, str) else role
    where = parse_scope(scope)
    await _check_grantor(deps, actor, level, where, "revoke")
    async with deps.sessions.begin() as session:
        rows = (await session.scalars(_same_grants(actor.team_id, who, level, where).order_by(Grant.id))).all()
        if not rows:
            raise NotFound(f"{_article(level.label)} grant on {where} for {who.id}")
        expiry = rows[0].expires_at
        for row in rows:
            await session.delete(row)
        audit.record(
            session,
            deps,
            actor,
            "revoke",
            f"{who.type}:{who.id}",
            task_alias=_scope_alias(where),
            before={**_grant_audit(level, where, expiry), "count": len(rows)},
            detail=f"{level.label} on {where}, {'was ' if expiry else 'had '}{_until(expiry)}",
        )
        return len(rows)


async def list_grants(deps: Deps, actor: Actor, subject: str | Subject | None = None) -> list[GrantInfo]:
    """Anyone may list their own grants; listing others' needs admin. Expired grants are left out."""
    who = parse_subject(subject) if isinstance(subject, str) else subject
    own = who is None or (who.type == "user" and who.id == actor.user_id)
    if not own:
        await require(deps, actor, "admin")
    else:
        await require_somewhere(deps, actor, "view", "list grants")
    now = deps.clock()
    query = select(Grant).where(Grant.team_id == actor.team_id).order_by(Grant.id)
    if who is not None:
        query = query.where(Grant.subject_id == who.id)
    elif not actor.system:
        query = query.where(Grant.subject_id.in_([actor.user_id, *actor.group_ids]))
    async with deps.sessions() as session:
        rows = (await session.scalars(query)).all()
    out = [_info(g) for g in rows if g.expires_at is None or g.expires_at > now]
    ids = deps.settings.admin_user_ids
    for uid in sorted(ids):
        user = uid.partition(":")[2] if ":" in uid else uid
        if (who is None and (actor.system or user == actor.user_id)) or (who is not None and who.id == user):
            out.insert(0, GrantInfo(0, actor.team_id, "user", user, "admin", GLOBAL, "RTCOPS_ADMIN_USERS", now, None, True))
    return out


async def approvers_for(deps: Deps, actor: Actor, alias: str) -> list[Subject]:
    """Who could approve a change the actor proposes on this task: every user and user group holding
    approver or admin in a scope that reaches it (unexpired), and the admins from RTCOPS_ADMIN_USERS; the
    actor is left out, since nobody approves their own change. Groups are listed as groups, not expanded."""
    task = await load_authorized(deps, actor, alias, "view")
    target = task_scope(task)
    now = deps.clock()
    async with deps.sessions() as session:
        rows = (
            await session.scalars(
                select(Grant)
                .where(
                    Grant.team_id == actor.team_id,
                    Grant.role.in_([Role.APPROVER.label, Role.ADMIN.label]),
                    or_(Grant.expires_at.is_(None), Grant.expires_at > now),
                )
                .order_by(Grant.id)
            )
        ).all()
    found: list[Subject] = []
    for g in rows:
        who = Subject(g.subject_type, g.subject_id)
        if scope_matches(g.scope, target) and who not in found and not (who.type == "user" and who.id == actor.user_id):
            found.append(who)
    for entry in sorted(deps.settings.admin_user_ids):
        team, _, user = entry.rpartition(":")
        who = Subject("user", user)
        if team in ("", actor.team_id) and user != actor.user_id and who not in found:
            found.append(who)
    return found


async def who_may(deps: Deps, actor: Actor, alias: str) -> list[Access]:
    """Who may act on a task, each subject once at the highest role a grant reaching the task gives them
    (unexpired), plus the admins from RTCOPS_ADMIN_USERS; highest role first. Viewers may ask: it names
    people, not secrets, and an operator needs to know whom to ask for an approval."""
    task = await load_authorized(deps, actor, alias, "view")
    target = task_scope(task)
    now = deps.clock()
    async with deps.sessions() as session:
        rows = (
            await session.scalars(
                select(Grant)
                .where(Grant.team_id == actor.team_id, or_(Grant.expires_at.is_(None), Grant.expires_at > now))
                .order_by(Grant.id)
            )
        ).all()
    best: dict[Subject, Access] = {}
    for g in rows:
        if not scope_matches(g.scope, target):
            continue
        who = Subject(g.subject_type, g.subject_id)
        held = best.get(who)
        if held is None or Role.parse(g.role) > Role.parse(held.role):
            best[who] = Access(who.type, who.id, Role.parse(g.role).label, g.scope, g.expires_at)
    for entry in sorted(deps.settings.admin_user_ids):
        team, _, user = entry.rpartition(":")
        if team in ("", actor.team_id):
            best[Subject("user", user)] = Access("user", user, Role.ADMIN.label, GLOBAL, None, bootstrap=True)
    return sorted(best.values(), key=lambda a: (-Role.parse(a.role), a.subject_type, a.subject_id))
