"""The one answer to "may this actor do this action on this task". Nothing else decides it.

Rules: roles are ordered viewer < operator < approver < admin; a grant applies to a task when its scope is
global, or names the task's provider, one of its tags, or the task itself; expired grants count for nothing;
no grant means no. If the grants cannot be read the answer is no, with the reason, never a guess. Admins
named in RTCOPS_ADMIN_USERS ("U123" or "T123:U123") are global admins without a grant row, so the first
admin can exist before anything is in the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.names import InvalidName
from bot.names import alias as alias_name
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput, PermissionDenied
from bot.services.results import Decision
from bot.store.models import Grant
from bot.targets.registry import names


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    APPROVER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise BadInput(f"unknown role {text!r}: use viewer, operator, approver or admin") from None


ACTION_ROLES: dict[str, Role] = {
    "view": Role.VIEWER,
    "propose": Role.OPERATOR,
    "approve": Role.APPROVER,
    "admin": Role.ADMIN,
}
"""Every service action needs one of these."""

COMMAND_ACTIONS: dict[str, str | None] = {
    "help": None,
    "tasks": "view",
    "status": "view",
    "history": "view",
    "grants": "view",
    "incidents": "view",
    "layout": "propose",
    "ingest": "propose",
    "rollback": "propose",
    "cancel": "propose",
    "approve": "approve",
    "reject": "approve",
    "task add": "admin",
    "task remove": "admin",
    "grant": "admin",
    "revoke": "admin",
    "unlock": "admin",
    "watch": "admin",
    "policy": "admin",
    "audit": "admin",
}
"""/rtc subcommand -> action; None needs no role."""

GLOBAL = "global"
_SCOPE_VALUE = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")


class Scoped(Protocol):
    """Anything a scope can be matched against: a stored task, or one about to be added."""

    @property
    def alias(self) -> str: ...

    @property
    def provider(self) -> str: ...

    @property
    def tags(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Target:
    alias: str
    provider: str
    tags: tuple[str, ...] = ()


def parse_scope(text: str | None) -> str:
    """Normalise a scope as typed: empty or "global" is global; otherwise provider:, tag: or task:."""
    if text is None or text.strip() in ("", GLOBAL, "*"):
        return GLOBAL
    kind, sep, value = text.strip().partition(":")
    kind = kind.lower()
    if not sep or kind not in ("provider", "tag", "task") or not _SCOPE_VALUE.match(value):
        raise BadInput(f"unknown scope {text!r}: use global, provider:<{'|'.join(names())}>, tag:<tag> or task:<alias>")
    if kind == "task":
        try:
            value = alias_name(value)
        except InvalidName as exc:
            raise BadInput(str(exc)) from None
    if kind == "provider":
        value = value.lower()
        if value not in names():
            raise BadInput(f"unknown provider {value!r} in scope: use " + " or ".join(f"provider:{n}" for n in names()))
    return f"{kind}:{value}"


def scope_matches(scope: str, target: Scoped | None) -> bool:
    if scope == GLOBAL:
        return True
    if target is None:
        return False
    kind, _, value = scope.partition(":")
    if kind == "provider":
        return target.provider == value
    if kind == "tag":
        return value in target.tags
    return kind == "task" and target.alias == value


def scope_covers(outer: str, inner: str, inner_target: Scoped | None) -> bool:
    """Whether a grant in `outer` reaches everything `inner` can reach (no granting outside one's scope).

    A task scope is covered by its provider or tag scope only through the task as it is now
    (`inner_target`); a tag or provider scope is covered only by itself or global, since a tag spans
    providers and a provider spans tags.
    """
    if outer in (GLOBAL, inner):
        return True
    if inner.startswith("task:") and inner_target is not None:
        return scope_matches(outer, inner_target)
    return False


def is_bootstrap_admin(settings: Settings, actor: Actor) -> bool:
    ids = settings.admin_user_ids
    return actor.user_id in ids or f"{actor.team_id}:{actor.user_id}" in ids


async def active_grants(session: AsyncSession, actor: Actor, now: datetime) -> list[Grant]:
    subjects = [actor.user_id, *sorted(actor.group_ids)]
    rows = await session.scalars(
        select(Grant).where(
            Grant.team_id == actor.team_id,
            Grant.subject_id.in_(subjects),
            or_(Grant.expires_at.is_(None), Grant.expires_at > now),
        )
    )
    return [g for g in rows if (g.subject_type == "user") == (g.subject_id == actor.user_id)]


def best_role(grants: Iterable[Grant], target: Scoped | None) -> tuple[Role | None, Grant | None]:
    best: tuple[Role | None, Grant | None] = (None, None)
    for g in grants:
        role = Role.parse(g.role)
        if scope_matches(g.scope, target) and (best[0] is None or role > best[0]):
            best = (role, g)
    return best


async def role_on(deps: Deps, actor: Actor, target: Scoped | None) -> Role | None:
    """The actor's highest role on the target; raises whatever the store raises (callers decide)."""
    if actor.system or is_bootstrap_admin(deps.settings, actor):
        return Role.ADMIN
    async with deps.sessions() as session:
        grants = await active_grants(session, actor, deps.clock())
    return best_role(grants, target)[0]


Check = Callable[[Scoped | None], Decision]


def unknown_task(alias: str) -> Target:
    """What an alias with no task behind it is checked as: only global and task:<alias> grants reach it.

    Checking a missing task this way, before saying it is missing, gives someone who could not see the task
    the same answer whether or not it exists.
    """
    return Target(alias, "")


async def checker(deps: Deps, actor: Actor, action: str) -> Check:
    """Reads the actor's grants once and answers for any number of tasks (listings, App Home)."""
    needed = ACTION_ROLES.get(action)
    if needed is None:
        return lambda _t: Decision(False, f"unknown action {action!r}")
    if actor.system:
        return lambda _t: Decision(True, "admin CLI")
    if is_bootstrap_admin(deps.settings, actor):
        return lambda _t: Decision(True, "admin from RTCOPS_ADMIN_USERS")
    try:
        async with deps.sessions() as session:
            grants = await active_grants(session, actor, deps.clock())
    except Exception as exc:  # fail closed: any store failure is a "no"
        reason = f"permissions could not be checked ({type(exc).__name__}); denied to be safe"
        return lambda _t: Decision(False, reason, needed.label)

    def check(task: Scoped | None) -> Decision:
        role, grant = best_role(grants, task)
        where = f" on {task.alias}" if task is not None else ""
        if role is None or grant is None:
            return Decision(False, f"you have no role{where}; {needed.label} is needed", needed.label)
        if role < needed:
            return Decision(False, f"you are {role.label}{where}; {needed.label} is needed", needed.label)
        return Decision(True, f"{role.label} via grant {grant.scope}")

    return check


async def authorize(deps: Deps, actor: Actor, action: str, task: Scoped | None = None) -> Decision:
    return (await checker(deps, actor, action))(task)


async def authorize_somewhere(deps: Deps, actor: Actor, action: str) -> Decision:
    """Whether the actor holds the action's role in any scope at all: the gate of the listings, so that
    someone with no role is told so (and which role they lack) instead of seeing an empty list."""
    needed = ACTION_ROLES.get(action)
    if needed is None:
        return Decision(False, f"unknown action {action!r}")
    if actor.system or is_bootstrap_admin(deps.settings, actor):
        return await authorize(deps, actor, action)
    try:
        async with deps.sessions() as session:
            grants = await active_grants(session, actor, deps.clock())
    except Exception as exc:  # fail closed
        return Decision(False, f"permissions could not be checked ({type(exc).__name__}); denied to be safe", needed.label)
    top = max((Role.parse(g.role) for g in grants), default=None)
    if top is None:
        return Decision(False, f"you hold no role in this workspace; {needed.label} is needed", needed.label)
    if top < needed:
        return Decision(False, f"you are at most {top.label} anywhere; {needed.label} is needed", needed.label)
    return Decision(True, f"{top.label} in some scope")


async def require(deps: Deps, actor: Actor, action: str, task: Scoped | None = None) -> Decision:
    decision = await authorize(deps, actor, action, task)
    if not decision.allowed:
        raise PermissionDenied(action, decision.reason, decision.missing_role)
    return decision


async def require_somewhere(deps: Deps, actor: Actor, action: str, what: str) -> Decision:
    decision = await authorize_somewhere(deps, actor, action)
    if not decision.allowed:
        raise PermissionDenied(what, decision.reason, decision.missing_role)
    return decision
