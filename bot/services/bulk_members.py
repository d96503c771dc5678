"""A bulk change as the store holds it: its members with their tasks, and what is shown of them (the result, the
progress message, one picture per distinct resulting layout). Proposing (`bot.services.bulk`) and the decision
and what follows it (`bot.services.bulk_lifecycle`) both build on it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import defer

from bot.domain import OPEN_STATES, BulkPurpose, BulkState, ChangeState, Touch
from bot.services.deps import Actor, Deps
from bot.services.errors import (
    NotFound,
    PermissionDenied,
)
from bot.services.permissions import checker
from bot.services.tasks import target_of, task_ref, task_scope
from bot.store.models import Bulk, ChangeRequest, Task
from bot.targets.base import Pictured
from bot.targets.config_json import payload_hash

BULK = "bulk change"
"""What a refusal calls a bulk (its number is not a request's)."""
MAX_PICTURES = 10
"""Pictures drawn for one bulk; further distinct layouts are counted, not drawn."""


@dataclass(frozen=True)
class Refusal:
    alias: str
    reason: str


@dataclass(frozen=True)
class BulkPreview:
    """The selector matched tasks the change does not cover: nothing is stored until the caller confirms the
    rest. `token` names exactly the tasks shown (and their versions); a confirmation with another token is shown
    the set again."""

    selector: str
    summary: str
    included: list[str]
    refused: list[Refusal]
    token: str


@dataclass(frozen=True)
class Member:
    request_id: int
    alias: str
    provider: str
    state: ChangeState
    diff_lines: list[str]
    base_version: int
    error_code: str | None = None
    error_message: str | None = None
    provider_request_id: str | None = None
    result_version: int | None = None
    sequence_number: int | None = None
    gone: bool = False


@dataclass(frozen=True)
class Picture:
    """One distinct resulting layout: the tasks that share it; the first one's before/after is drawn."""

    aliases: list[str]


@dataclass(frozen=True)
class BulkResult:
    bulk_id: int
    team_id: str
    requester: str
    purpose: BulkPurpose
    selector: str
    summary: str
    state: BulkState
    needs_approval: bool
    payload_hash: str
    created_at: datetime
    expires_at: datetime
    members: list[Member]
    refused: list[Refusal]
    pictures: list[Picture] = field(default_factory=list)
    undrawn: int = 0  # distinct layouts beyond MAX_PICTURES
    decided_by: str | None = None
    parent_id: int | None = None
    channel_id: str | None = None
    message_ts: str | None = None
    link: str | None = None
    finished_at: datetime | None = None
    not_before: datetime | None = None  # scheduled: applied at this time, once approved
    schedule_id: int | None = None
    break_glass: str | None = None  # applied at once without a second person, for this reason
    cue: tuple[int, int] | None = None  # (rundown id, position): a rundown's cue

    def count(self, *states: ChangeState) -> int:
        return sum(1 for m in self.members if m.state in states)

    @property
    def applied(self) -> int:
        return self.count(ChangeState.APPLIED)

    @property
    def failed(self) -> int:
        """Did not apply and never will by itself: failed, unknown, or ended before it was sent (stale, expired,
        cancelled by an admin's unlock)."""
        return len(self.members) - self.applied - self.pending

    @property
    def pending(self) -> int:
        return self.count(*OPEN_STATES)

    @property
    def done(self) -> bool:
        """Every task has its verdict (or the bulk was refused as a whole)."""
        return self.pending == 0

    @property
    def retryable(self) -> list[Member]:
        return [m for m in self.members if m.state in (ChangeState.FAILED, ChangeState.UNKNOWN)]

    @property
    def rollbackable(self) -> list[Member]:
        return [m for m in self.members if m.state == ChangeState.APPLIED]


def picture_key(task: Task, desired: dict[str, Any], touched: Sequence[Touch]) -> str | None:
    target = target_of(task)
    if not isinstance(target, Pictured):
        return None
    key = target.picture_key(task_ref(task), desired, touched)
    return None if key is None else f"{task.provider}:{key}"


def bulk_hash(members: Any) -> str:
    return payload_hash({"members": sorted((r.task_id, r.payload_hash) for r in members)})


async def load_bulk(
    deps: Deps, actor: Actor | None, bulk_id: int, *, light_tasks: bool = False
) -> tuple[Bulk, list[tuple[ChangeRequest, Task]]]:
    """The bulk and its members with their tasks; `light_tasks` leaves every configuration unread (the tasks'
    and the requests' own: a decision needs the tasks' scopes and the requests' payload hashes only)."""
    options = (
        [
            defer(Task.configuration), defer(Task.ids), defer(Task.facts), defer(Task.policy), defer(ChangeRequest.change),
            defer(ChangeRequest.baseline), defer(ChangeRequest.desired), defer(ChangeRequest.drift),
        ]
        if light_tasks
        else []
    )  # fmt: skip
    async with deps.sessions() as session:
        bulk = await session.get(Bulk, bulk_id)
        if bulk is None or (actor is not None and bulk.team_id != actor.team_id and not actor.system):
            raise NotFound(f"bulk change #{bulk_id}")
        rows = (
            await session.execute(
                select(ChangeRequest, Task)
                .join(Task, Task.id == ChangeRequest.task_id)
                .where(ChangeRequest.bulk_id == bulk_id)
                .order_by(Task.alias)
                .options(*options)
            )
        ).all()
    return bulk, list(rows)


_DIFFS: OrderedDict[tuple[str, str], list[str]] = OrderedDict()
DIFF_CACHE = 5000
"""Diff lines by payload hash (which covers the baseline and the payload): they never change once a request is
stored, and the progress message is redrawn about once a second with every task's diff."""


def _diff(req: ChangeRequest, task: Task) -> list[str]:
    key = (task.provider, req.payload_hash)
    lines = _DIFFS.get(key)
    if lines is None:
        lines = _DIFFS[key] = target_of(task).describe(req.baseline, req.desired)
        while len(_DIFFS) > DIFF_CACHE:
            _DIFFS.popitem(last=False)
    return lines


def _member(req: ChangeRequest, task: Task, *, diff: bool) -> Member:
    """`diff` False: without its diff, as the progress and the outcomes show a member (describing 200 diffs a
    second would cost more than the provider calls they report)."""
    return Member(
        request_id=req.id,
        alias=task.alias,
        provider=task.provider,
        state=req.state,
        diff_lines=_diff(req, task) if diff else [],
        base_version=req.base_version,
        error_code=req.error_code,
        error_message=req.error_message,
        provider_request_id=req.provider_request_id,
        result_version=req.result_version,
        sequence_number=req.sequence_number,
        gone=req.gone,
    )


def bulk_result(bulk: Bulk, rows: Sequence[tuple[ChangeRequest, Task]], *, diffs: bool = True) -> BulkResult:
    """`diffs` False: without each task's diff and the pictures (what a decision answers with)."""
    groups = picture_groups(rows) if diffs else []
    return BulkResult(
        members=[_member(req, task, diff=diffs) for req, task in sorted(rows, key=lambda r: r[1].alias)],
        pictures=[Picture([task.alias for _, task in group]) for group in groups[:MAX_PICTURES]],
        undrawn=max(0, len(groups) - MAX_PICTURES),
        **_of_bulk(bulk),
    )


def _of_bulk(bulk: Bulk) -> dict[str, Any]:
    """What a BulkResult says of the bulk itself, whichever way its members were read."""
    return {
        "bulk_id": bulk.id,
        "team_id": bulk.team_id,
        "requester": bulk.requester,
        "purpose": bulk.purpose,
        "selector": bulk.selector,
        "summary": bulk.summary,
        "state": bulk.state,
        "needs_approval": bulk.needs_approval,
        "payload_hash": bulk.payload_hash,
        "created_at": bulk.created_at,
        "expires_at": bulk.expires_at,
        "refused": [Refusal(str(r.get("alias", "")), str(r.get("reason", ""))) for r in bulk.refused or []],
        "decided_by": bulk.decided_by,
        "parent_id": bulk.parent_id,
        "channel_id": bulk.channel_id,
        "message_ts": bulk.message_ts,
        "link": bulk.permalink,
        "finished_at": bulk.finished_at,
        "not_before": bulk.not_before,
        "schedule_id": bulk.schedule_id,
        "break_glass": bulk.break_glass,
        "cue": (bulk.rundown_id, bulk.cue_position) if bulk.rundown_id is not None and bulk.cue_position else None,
    }


def picture_groups(rows: Sequence[tuple[ChangeRequest, Task]]) -> list[list[tuple[ChangeRequest, Task]]]:
    """The members by distinct resulting picture, in the order of their first task's alias."""
    found: dict[str, list[tuple[ChangeRequest, Task]]] = {}
    for req, task in sorted(rows, key=lambda r: r[1].alias):
        key = picture_key(task, req.desired, [Touch(t) for t in req.touched])
        if key is not None:
            found.setdefault(key, []).append((req, task))
    return list(found.values())


async def get(deps: Deps, actor: Actor, bulk_id: int) -> BulkResult:
    bulk, rows = await load_bulk(deps, actor, bulk_id)
    may_view = await checker(deps, actor, "view")
    if not rows or not all(may_view(task_scope(task)).allowed for _, task in rows):
        raise NotFound(f"bulk change #{bulk_id}")
    return bulk_result(bulk, rows)


async def result_of(deps: Deps, bulk_id: int, *, diffs: bool = True) -> BulkResult:
    """A bulk as it stands, read without an actor: for the bot's own reports."""
    bulk, rows = await load_bulk(deps, None, bulk_id)
    return bulk_result(bulk, rows, diffs=diffs)


async def progress_of(deps: Deps, bulk_id: int) -> BulkResult:
    """A bulk as its progress message shows it, read without the tasks' configurations: the diffs come from
    the cache of diffs (read and described only for the requests it lacks), the pictures are left out. The
    progress message is redrawn about once a second while hundreds of tasks are being applied."""
    async with deps.sessions() as session:
        bulk = await session.get(Bulk, bulk_id)
        if bulk is None:
            raise NotFound(f"bulk change #{bulk_id}")
        rows = (
            await session.execute(
                select(
                    ChangeRequest.id,
                    ChangeRequest.state,
                    ChangeRequest.payload_hash,
                    ChangeRequest.base_version,
                    ChangeRequest.error_code,
                    ChangeRequest.error_message,
                    ChangeRequest.provider_request_id,
                    ChangeRequest.result_version,
                    ChangeRequest.sequence_number,
                    ChangeRequest.gone,
                    Task.alias,
                    Task.provider,
                )
                .join(Task, Task.id == ChangeRequest.task_id)
                .where(ChangeRequest.bulk_id == bulk_id)
                .order_by(Task.alias)
            )
        ).all()
        missing = [r.id for r in rows if (r.provider, r.payload_hash) not in _DIFFS]
        if missing:
            payloads = (
                await session.execute(
                    select(ChangeRequest, Task).join(Task, Task.id == ChangeRequest.task_id).where(ChangeRequest.id.in_(missing))
                )
            ).all()
            for req, task in payloads:
                _diff(req, task)
    members = [
        Member(
            r.id, r.alias, r.provider, r.state, _DIFFS.get((r.provider, r.payload_hash), []), r.base_version, r.error_code,
            r.error_message, r.provider_request_id, r.result_version, r.sequence_number, r.gone,
        )
        for r in rows
    ]  # fmt: skip
    return BulkResult(members=members, **_of_bulk(bulk))


async def picture(deps: Deps, bulk_id: int, index: int) -> tuple[bytes | None, list[str]]:
    """The before/after picture of the first task of the `index`-th distinct resulting layout, and the tasks that
    share it; drawn again from what the requests store (the same every time)."""
    _, rows = await load_bulk(deps, None, bulk_id)
    groups = picture_groups(rows)
    if index >= len(groups):
        return None, []
    req, task = groups[index][0]
    drawn = target_of(task).preview(task_ref(task), req.baseline, req.desired, [Touch(t) for t in req.touched])
    return drawn, [t.alias for _, t in groups[index]]


async def require_all(deps: Deps, actor: Actor, action: str, rows: Sequence[tuple[ChangeRequest, Task]]) -> None:
    """The actor may do `action` on every task of the bulk, or on none of them as far as this bulk goes."""
    check = await checker(deps, actor, action)
    denied = [(task.alias, d) for _, task in rows if not (d := check(task_scope(task))).allowed]
    if denied:
        aliases = ", ".join(alias for alias, _ in denied[:10]) + (f" and {len(denied) - 10} more" if len(denied) > 10 else "")
        raise PermissionDenied(action, f"{denied[0][1].reason} (also needed on {aliases})", denied[0][1].missing_role)


async def notify_targets(deps: Deps, bulk_id: int) -> list[str]:
    """The notification channels of a bulk's tasks (each task's own, else the default), each once."""
    async with deps.sessions() as session:
        found = (
            await session.scalars(
                select(Task.notify_channel)
                .join(ChangeRequest, ChangeRequest.task_id == Task.id)
                .where(ChangeRequest.bulk_id == bulk_id)
            )
        ).all()
    return list(dict.fromkeys(c for c in (c or deps.settings.notify_channel for c in found) if c))
