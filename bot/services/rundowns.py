"""Rundowns: the show planned before it starts, approved once as a whole, then fired cue by cue
(`bot.services.cues`).

A cue is one or more steps, each written as the change command it stands for, without `/rtc`: `layout studio
preset=full`, `ingest tag:lobbies volume=30`, `scene match tag:semis`. Steps are checked for form when added.

Putting a rundown up for approval (`arm`) works out, cue after cue, the exact configuration every task gets: the
first cue that touches a task starts from what it runs now; each later one from what the cue before left it in.
Those configurations and the window are what the approver binds with one click, by their hash. A cue then sets
its configuration whole (absolute state): if a task was changed between cues, the cue still applies and the
thread says what it overwrote. Any edit moves the rundown back to draft, so it needs a new approval.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot import names
from bot.domain import RundownState
from bot.services import audit, catalogue, rundown_notices, scenes, selectors
from bot.services.bulk_members import Refusal
from bot.services.changes import Change, build_change, change_kind, read_baseline
from bot.services.deps import Actor, Deps
from bot.services.errors import (
    BadInput,
    InvalidChange,
    NotFound,
    PayloadChanged,
    PermissionDenied,
    SelfApproval,
    ServiceError,
    Stale,
)
from bot.services.permissions import checker, require_somewhere
from bot.services.tasks import load_authorized, target_of, task_ref, task_scope
from bot.services.when import Window, show_window, window
from bot.store import rundowns as store
from bot.store.models import Cue, Rundown, Task
from bot.targets.base import Pictured
from bot.targets.config_json import payload_hash

MAX_CUES = 50
MAX_STEPS = 10


@dataclass(frozen=True)
class Step:
    """One step of a cue, as typed: `verb` is a change command (`layout`, `ingest`) or `scene`."""

    text: str
    verb: str
    where: str | None  # an alias or a selector's text; a scene may leave it out (its own scope)
    words: tuple[str, ...] = ()
    scene: str | None = None


@dataclass(frozen=True)
class CueDraft:
    label: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class CueInfo:
    position: int
    label: str
    steps: list[str]
    tasks: list[str] = field(default_factory=list)  # worked out when put up for approval
    fired: bool = False
    bulk_id: int | None = None


@dataclass(frozen=True)
class RundownInfo:
    rundown_id: int
    name: str
    state: RundownState
    version: int
    epoch: int
    cues: list[CueInfo]
    created_by: str
    team_id: str
    window: Window | None = None
    tz: str | None = None
    requested_by: str | None = None
    expires_at: datetime | None = None
    decided_by: str | None = None
    payload_hash: str | None = None
    on_air: int = 0
    channel_id: str | None = None
    message_ts: str | None = None
    link: str | None = None
    preview: tuple[int, str] | None = None  # (cue, Slack file id) of the picture the message shows

    @property
    def next(self) -> int | None:
        """The cue after the one on air that has not fired yet (None: the rundown is done)."""
        for cue in self.cues:
            if cue.position > self.on_air and not cue.fired:
                return cue.position
        return None

    def cue(self, position: int) -> CueInfo | None:
        return next((c for c in self.cues if c.position == position), None)

    @property
    def window_text(self) -> str:
        return show_window(self.window, self.tz) if self.window else "no window"


# ---------------------------------------------------------------- steps


def parse_step(text: str) -> Step:
    """Raises BadInput saying what is wrong with the step."""
    words = text.split()
    if not words:
        raise BadInput("an empty step: write a change command without /rtc, like `layout studio preset=full`")
    verb = words[0].lower()
    if verb == "scene":
        if len(words) not in (2, 3):
            raise BadInput(f"{text!r}: a scene step is `scene <name> [<alias>|<selector>]`")
        return Step(text, "scene", _where(words[2]) if len(words) == 3 else None, scene=_name(words[1], "scene"))
    verbs = [v.name for v in catalogue.verbs()]
    if verb not in verbs:
        raise BadInput(f"{text!r}: a step starts with {', '.join(verbs)} or scene")
    if len(words) < 3:
        raise BadInput(f"{text!r}: say on which task and what, like `{verb} <alias>|<selector> …`")
    catalogue.parse_change(verb, words[2:])  # checked for form now, not at showtime
    return Step(text, verb, _where(words[1]), tuple(words[2:]))


def _where(token: str) -> str:
    if selectors.is_selector(token):
        return selectors.parse(token).text
    return _name(token, "task alias")


def _name(token: str, what: str) -> str:
    try:
        return names.alias(token)
    except names.InvalidName as exc:
        raise BadInput(f"{what} {token!r} is not valid: {exc}") from None


def parse_cue(text: str, label: str | None = None) -> CueDraft:
    """`[<label>: ]<step>[; <step>…]`."""
    body = text.strip()
    if label is None and ": " in body:
        head, _, rest = body.partition(": ")
        if head.split()[0].lower() not in {"scene", *(v.name for v in catalogue.verbs())}:
            label, body = head.strip(), rest
    steps = tuple(parse_step(part.strip()) for part in body.split(";") if part.strip())
    if not steps:
        raise BadInput("a cue needs at least one step, like `layout studio preset=full`")
    if len(steps) > MAX_STEPS:
        raise BadInput(f"a cue holds at most {MAX_STEPS} steps")
    label = (label or "; ".join(s.text for s in steps)).strip()
    if len(label) > 100:
        label = label[:99] + "…"
    return CueDraft(label, steps)


# ---------------------------------------------------------------- reading


async def _load(deps: Deps, actor: Actor, name: str) -> Rundown:
    async with deps.sessions() as session:
        row = await store.load(session, actor.team_id, _name(name, "rundown name"))
    if row is None:
        raise NotFound(f"rundown {name}")
    return row


async def info(deps: Deps, rundown: Rundown) -> RundownInfo:
    async with deps.sessions() as session:
        cues = await store.cues_of(session, rundown.id)
        fired = await store.fired_positions(session, rundown.id, rundown.epoch) if rundown.epoch else {}
    return RundownInfo(
        rundown.id,
        rundown.name,
        rundown.state,
        rundown.version,
        rundown.epoch,
        [
            CueInfo(
                c.position,
                c.label,
                list(c.steps),
                sorted(str(e["alias"]) for e in (c.payload or {}).values()),
                c.position in fired,
                fired[c.position].id if c.position in fired else None,
            )
            for c in cues
        ],
        rundown.created_by,
        rundown.team_id,
        Window(rundown.window_start, rundown.window_end) if rundown.window_start and rundown.window_end else None,
        rundown.tz,
        rundown.requested_by,
        rundown.expires_at,
        rundown.decided_by,
        rundown.payload_hash,
        rundown.on_air,
        rundown.channel_id,
        rundown.message_ts,
        rundown.permalink,
        (rundown.preview_cue, rundown.preview_file) if rundown.preview_cue and rundown.preview_file else None,
    )


async def info_of(deps: Deps, rundown_id: int) -> RundownInfo:
    """A rundown as it stands, without an actor: for the bot's own messages."""
    async with deps.sessions() as session:
        row = await session.get(Rundown, rundown_id)
    if row is None:
        raise NotFound(f"rundown #{rundown_id}")
    return await info(deps, row)


async def show(deps: Deps, actor: Actor, name: str) -> RundownInfo:
    await require_somewhere(deps, actor, "view", "see rundowns")
    return await info(deps, await _load(deps, actor, name))


async def list_rundowns(deps: Deps, actor: Actor) -> list[RundownInfo]:
    await require_somewhere(deps, actor, "view", "see rundowns")
    async with deps.sessions() as session:
        rows = (
            await session.scalars(
                select(Rundown).where(Rundown.team_id == actor.team_id, Rundown.deleted_at.is_(None)).order_by(Rundown.name)
            )
        ).all()
    return [await info(deps, r) for r in rows]


# ---------------------------------------------------------------- editing


async def create(deps: Deps, actor: Actor, name: str, cues: Sequence[CueDraft] = ()) -> RundownInfo:
    await require_somewhere(deps, actor, "propose", "make rundowns")
    name = _name(name, "rundown name")
    now = deps.clock()
    row = Rundown(
        team_id=actor.team_id, name=name, version=1, state=RundownState.DRAFT, epoch=0, created_by=actor.user_id,
        created_at=now, on_air=0,
    )  # fmt: skip
    try:
        await store.create(deps.sessions, row, audit=audit.event(deps, actor, "rundown.create", f"rundown:{name}"))
    except store.RundownExists:
        raise BadInput(f"a rundown called {name} exists; `rundown show {name}` shows it") from None
    if cues:
        return await _edit(deps, actor, row, list(cues), "rundown.import", f"{len(cues)} cues")
    return await info(deps, row)


def _drafts(cues: Sequence[Cue]) -> list[CueDraft]:
    return [CueDraft(c.label, tuple(parse_step(s) for s in c.steps)) for c in cues]


async def _edit(deps: Deps, actor: Actor, row: Rundown, cues: list[CueDraft], action: str, detail: str) -> RundownInfo:
    if len(cues) > MAX_CUES:
        raise BadInput(f"a rundown holds at most {MAX_CUES} cues")
    was = row.state
    now = deps.clock()
    told = (
        rundown_notices.decided(row.team_id, row.id, now, by=actor.user_id, what="disarmed", reason=f"edited: {detail}")
        if was != RundownState.DRAFT and row.message_ts
        else []
    )
    event = audit.event(
        deps, actor, action, f"rundown:{row.name}", before={"state": was.value, "version": row.version},
        after={"cues": [{"label": c.label, "steps": [s.text for s in c.steps]} for c in cues]}, detail=detail[:1000],
    )  # fmt: skip
    rows = [Cue(label=c.label, steps=[s.text for s in c.steps]) for c in cues]
    if not await store.edit(deps.sessions, row, rows, audit=event, notices=told, at=now):
        raise Stale(f"rundown {row.name} was edited by someone else at the same moment; look again")
    if told:
        deps.signals.deliver.set()
    return await info(deps, row)


async def add_cue(deps: Deps, actor: Actor, name: str, text: str, *, at: int | None = None) -> RundownInfo:
    """Appends a cue (or inserts it at position `at`)."""
    await require_somewhere(deps, actor, "propose", "edit rundowns")
    row = await _load(deps, actor, name)
    draft = parse_cue(text)
    async with deps.sessions() as session:
        cues = _drafts(await store.cues_of(session, row.id))
    position = len(cues) + 1 if at is None else at
    if not 1 <= position <= len(cues) + 1:
        raise BadInput(f"rundown {row.name} has {len(cues)} cues; a new one goes at 1 to {len(cues) + 1}")
    cues.insert(position - 1, draft)
    return await _edit(deps, actor, row, cues, "rundown.edit", f"cue {position} added: {draft.label}")


async def remove_cue(deps: Deps, actor: Actor, name: str, position: int) -> RundownInfo:
    await require_somewhere(deps, actor, "propose", "edit rundowns")
    row = await _load(deps, actor, name)
    async with deps.sessions() as session:
        cues = _drafts(await store.cues_of(session, row.id))
    if not 1 <= position <= len(cues):
        raise BadInput(f"rundown {row.name} has no cue {position} (it has {len(cues)})")
    gone = cues.pop(position - 1)
    return await _edit(deps, actor, row, cues, "rundown.edit", f"cue {position} removed: {gone.label}")


async def replace_cues(
    deps: Deps, actor: Actor, name: str, cues: Sequence[CueDraft], *, expected_version: int | None = None
) -> RundownInfo:
    """The whole cue list at once (the modal, an import over an existing rundown); `expected_version`: the version
    the editor showed, so an edit made meanwhile by someone else is not silently overwritten."""
    await require_somewhere(deps, actor, "propose", "edit rundowns")
    row = await _load(deps, actor, name)
    if expected_version is not None and row.version != expected_version:
        raise Stale(f"rundown {row.name} was edited by someone else since the editor opened; open it again")
    return await _edit(deps, actor, row, list(cues), "rundown.edit", f"{len(cues)} cues")


async def delete(deps: Deps, actor: Actor, name: str) -> RundownInfo:
    await require_somewhere(deps, actor, "propose", "delete rundowns")
    row = await _load(deps, actor, name)
    if row.created_by != actor.user_id:
        await require_somewhere(deps, actor, "admin", "delete someone else's rundown")
    now = deps.clock()
    told = rundown_notices.decided(row.team_id, row.id, now, by=actor.user_id, what="deleted") if row.message_ts else []
    event = audit.event(deps, actor, "rundown.delete", f"rundown:{row.name}", before={"version": row.version})
    if not await store.remove(deps.sessions, row, at=now, audit=event, notices=told):
        raise Stale(f"rundown {row.name} changed meanwhile; look again")
    deps.signals.deliver.set()
    found = await info(deps, row)
    return found


def export(found: RundownInfo) -> dict[str, Any]:
    """The rundown as a document `rtcops rundown import` reads back (YAML or JSON)."""
    return {"rundown": found.name, "cues": [{"label": c.label, "steps": list(c.steps)} for c in found.cues]}


def parse_document(doc: Any) -> tuple[str, list[CueDraft]]:
    """A document of `export`'s shape; every problem is named with where it is."""
    if not isinstance(doc, dict) or not isinstance(doc.get("rundown"), str) or not isinstance(doc.get("cues"), list):
        raise BadInput("a rundown file is a mapping with `rundown: <name>` and `cues:` (a list)")
    drafts: list[CueDraft] = []
    for i, cue in enumerate(doc["cues"], start=1):
        if isinstance(cue, str):
            cue = {"steps": [cue]}
        if not isinstance(cue, dict) or not isinstance(cue.get("steps"), list) or not cue["steps"]:
            raise BadInput(f"cue {i}: give `steps:` as a list of change commands (and an optional `label:`)")
        label = cue.get("label")
        if label is not None and not isinstance(label, str):
            raise BadInput(f"cue {i}: `label` must be text")
        try:
            steps = [str(s) for s in cue["steps"]]
            drafts.append(parse_cue("; ".join(steps), label=label or None))
        except BadInput as exc:
            raise BadInput(f"cue {i}: {exc}") from None
    return _name(doc["rundown"], "rundown name"), drafts


# ---------------------------------------------------------------- arming


@dataclass
class _Running:
    """What a task runs as the show is worked out: what it ran when the rundown was put up, then each cue's."""

    task: Task
    config: dict[str, Any]


async def _work_out(deps: Deps, actor: Actor, cues: Sequence[Cue]) -> tuple[dict[int, dict[str, Any]], list[str]]:
    """Each cue's payload (cue id -> task id -> entry), and every problem found, named by cue and step."""
    problems: list[str] = []
    running: dict[int, _Running] = {}
    payloads: dict[int, dict[str, Any]] = {}
    may_propose = await checker(deps, actor, "propose")
    for cue in cues:
        payload: dict[str, Any] = {}
        for text in cue.steps:
            where = f"cue {cue.position} ({text})"
            try:
                step = parse_step(text)
                planned = await _plan(deps, actor, step)
            except ServiceError as exc:
                problems.append(f"{where}: {exc}")
                continue
            fresh = [t for t, _ in planned if t.id not in running]
            reads = await asyncio.gather(*(read_baseline(deps, t, target_of(t)) for t in fresh), return_exceptions=True)
            for task, read in zip(fresh, reads, strict=True):
                if isinstance(read, BaseException):
                    problems.append(f"{where}: {task.alias}: {read}")
                else:
                    running[task.id] = _Running(task, read[0])
            for task, change in planned:
                if task.id not in running:
                    continue
                if isinstance(change, Refusal):
                    problems.append(f"{where}: {task.alias}: {change.reason}")
                    continue
                if not may_propose(task_scope(task)).allowed:
                    problems.append(f"{where}: you may not change {task.alias}")
                    continue
                entry = await _entry(deps, task, change, running[task.id].config, where, problems)
                if entry is not None:
                    payload[str(task.id)] = entry
                    running[task.id].config = entry["desired"]
        payloads[cue.id] = payload
    return payloads, problems


async def _plan(deps: Deps, actor: Actor, step: Step) -> list[tuple[Task, Change | Refusal]]:
    if step.verb == "scene":
        assert step.scene is not None
        planned = await scenes.plan(deps, actor, step.scene, step.where)
        tasks = await _tasks(deps, actor, planned.target)
        return [(t, planned.plan(t)) for t in tasks]
    change = catalogue.parse_change(step.verb, list(step.words))
    assert step.where is not None
    return [(t, change) for t in await _tasks(deps, actor, step.where)]


async def _tasks(deps: Deps, actor: Actor, where: str) -> list[Task]:
    if not selectors.is_selector(where):
        return [await load_authorized(deps, actor, where, "view")]
    matched = await selectors.resolve(deps, actor, selectors.parse(where))
    if matched.missing:
        raise BadInput(f"no task called {', '.join(matched.missing)} that you may see")
    if not matched.tasks:
        raise BadInput(f"no task you may see matches {where}")
    return matched.tasks


async def _entry(
    deps: Deps, task: Task, change: Change, before: dict[str, Any], where: str, problems: list[str]
) -> dict[str, Any] | None:
    target = target_of(task)
    try:
        await change_kind(deps, task, target, change)
        _, desired = await build_change(deps, task, target, change, before)
    except ServiceError as exc:
        problems.append(f"{where}: {task.alias}: {exc}")
        return None
    found = target.validate(task_ref(task), desired)
    if found:
        problems.append(f"{where}: {task.alias}: {'; '.join(found)}")
        return None
    return {
        "alias": task.alias,
        "provider": task.provider,
        "before": copy.deepcopy(before),
        "desired": desired,
        "touched": [t.value for t in target.touched(before, desired)],
        "summary": change.summary[:300],
    }


def _hash(row: Rundown, cues: Sequence[Cue], payloads: dict[int, dict[str, Any]], win: Window) -> str:
    return payload_hash(
        {
            "rundown": row.id,
            "version": row.version,
            "epoch": row.epoch + 1,
            "window": [win.start.isoformat(), win.end.isoformat()],
            "cues": [{"position": c.position, "label": c.label, "payload": payloads[c.id]} for c in cues],
        }
    )


async def arm(deps: Deps, actor: Actor, name: str, window_text: str, *, tz: str | None, channel: str | None) -> RundownInfo:
    """Puts the rundown up for approval as a whole, for the window: every cue's payload is worked out and bound.
    Needs operator on every task it touches; someone else approves it (`approve`)."""
    await require_somewhere(deps, actor, "propose", "arm rundowns")
    row = await _load(deps, actor, name)
    now = deps.clock()
    win = window(window_text, tz, now)
    async with deps.sessions() as session:
        cues = await store.cues_of(session, row.id)
    if not cues:
        raise BadInput(f"rundown {row.name} has no cues yet; add them with `rundown add {row.name} …`")
    payloads, problems = await _work_out(deps, actor, cues)
    if problems:
        raise InvalidChange(problems)
    ttl = timedelta(minutes=deps.settings.request_ttl_minutes)
    values = {
        "requested_by": actor.user_id,
        "requested_at": now,
        "expires_at": min(max(win.start, now + ttl), win.end),
        "window_start": win.start,
        "window_end": win.end,
        "tz": (tz or "UTC")[:64],
        "payload_hash": _hash(row, cues, payloads, win),
        "decided_by": None,
        "decided_at": None,
        "channel_id": channel[:32] if channel else None,
        "message_ts": None,
        "permalink": None,
    }
    told = rundown_notices.requested(row.team_id, row.id, now, epoch=row.epoch + 1) if channel else []
    event = audit.event(
        deps, actor, "rundown.arm", f"rundown:{row.name}", outcome="pending",
        after={"window": [win.start.isoformat(), win.end.isoformat()], "hash": values["payload_hash"]},
        detail=f"{len(cues)} cues, {show_window(win, tz)}",
    )  # fmt: skip
    if not await store.request_arming(deps.sessions, row, payloads, values=values, audit=event, notices=told):
        raise Stale(f"rundown {row.name} was edited while it was being worked out; arm it again")
    deps.signals.deliver.set()
    return await info_of(deps, row.id)


async def _tasks_of_rundown(deps: Deps, rundown_id: int) -> list[Task]:
    async with deps.sessions() as session:
        cues = await store.cues_of(session, rundown_id)
        ids = {int(k) for c in cues for k in (c.payload or {})}
        return list((await session.scalars(select(Task).where(Task.id.in_(ids)))).all()) if ids else []


async def _require_all(deps: Deps, actor: Actor, action: str, what: str, tasks: Sequence[Task]) -> None:
    may = await checker(deps, actor, action)
    denied = [t.alias for t in tasks if not may(task_scope(t)).allowed]
    if denied:
        raise PermissionDenied(what, f"you may not {action} on {', '.join(sorted(denied)[:10])}", action)
    if not tasks:
        await require_somewhere(deps, actor, action, what)


async def _pending(deps: Deps, actor: Actor, rundown_id: int) -> Rundown:
    async with deps.sessions() as session:
        row = await session.get(Rundown, rundown_id)
    if row is None or row.team_id != actor.team_id or row.deleted_at is not None:
        await require_somewhere(deps, actor, "view", "see rundowns")
        raise NotFound(f"rundown #{rundown_id}")
    return row


async def approve(
    deps: Deps, actor: Actor, rundown_id: int, *, expected_hash: str | None = None, idempotency_key: str | None = None
) -> RundownInfo:
    """Arms the rundown for its window: someone other than who put it up, approver on every task of every cue,
    before the request expires, for the payload shown (the button carries its hash)."""
    row = await _pending(deps, actor, rundown_id)
    await _require_all(deps, actor, "approve", "approve this rundown", await _tasks_of_rundown(deps, rundown_id))
    if row.state != RundownState.PENDING:
        raise BadInput(f"rundown {row.name} is {row.state.words}; there is nothing to approve")
    if actor.user_id == row.requested_by:
        raise SelfApproval(rundown_id)
    now = deps.clock()
    if expected_hash is not None and expected_hash != row.payload_hash:
        raise PayloadChanged("the rundown is not the one that was shown for approval")
    if row.expires_at is not None and now >= row.expires_at:
        await _decide(deps, actor, row, RundownState.DRAFT, "expired", "nobody approved it in time")
        raise Stale(f"the approval request of rundown {row.name} expired; arm it again")
    event = audit.event(deps, actor, "rundown.approve", f"rundown:{row.name}", outcome="armed", detail=row.payload_hash or "")
    told = rundown_notices.decided(row.team_id, row.id, now, by=actor.user_id, what="armed")
    if not await store.decide(
        deps.sessions, row, RundownState.ARMED, by=actor.user_id, at=now, audit=event, notices=told,
        idempotency_key=idempotency_key,
    ):  # fmt: skip
        raise Stale(f"rundown {row.name} changed before the approval landed (edited, or decided by someone else)")
    deps.signals.deliver.set()
    return await info_of(deps, row.id)


async def _decide(deps: Deps, actor: Actor, row: Rundown, to: RundownState, what: str, reason: str) -> bool:
    now = deps.clock()
    event = audit.event(deps, actor, f"rundown.{what}", f"rundown:{row.name}", outcome=what, detail=reason)
    told = rundown_notices.decided(row.team_id, row.id, now, by=actor.user_id, what=what, reason=reason)
    done = await store.decide(deps.sessions, row, to, by=actor.user_id, at=now, audit=event, notices=told)
    deps.signals.deliver.set()
    return done


async def reject(deps: Deps, actor: Actor, rundown_id: int) -> RundownInfo:
    row = await _pending(deps, actor, rundown_id)
    await _require_all(deps, actor, "approve", "reject this rundown", await _tasks_of_rundown(deps, rundown_id))
    if row.state != RundownState.PENDING or not await _decide(deps, actor, row, RundownState.DRAFT, "rejected", ""):
        raise BadInput(f"rundown {row.name} is {row.state.words}; there is nothing to reject")
    return await info_of(deps, row.id)


async def picture(deps: Deps, rundown_id: int, position: int) -> bytes | None:
    """The before/after picture of a cue, drawn for its first task whose target draws one."""
    async with deps.sessions() as session:
        cue = await session.scalar(select(Cue).where(Cue.rundown_id == rundown_id, Cue.position == position))
        if cue is None or not cue.payload:
            return None
        tasks = {t.id: t for t in (await session.scalars(select(Task).where(Task.id.in_([int(k) for k in cue.payload])))).all()}
    for key, entry in cue.payload.items():
        task = tasks.get(int(key))
        if task is None or not isinstance(target_of(task), Pictured):
            continue
        touched = [t for t in target_of(task).touched(entry["before"], entry["desired"])]
        png = target_of(task).preview(task_ref(task), entry["before"], entry["desired"], touched)
        if png is not None:
            return png
    return None


async def attach_message(deps: Deps, rundown_id: int, epoch: int, *, channel_id: str, message_ts: str, link: str | None) -> None:
    await store.attach_message(
        deps.sessions,
        rundown_id,
        epoch,
        channel_id=channel_id[:32],
        message_ts=message_ts[:32],
        permalink=(link or None) and link[:500],
    )


async def set_preview(deps: Deps, rundown_id: int, epoch: int, position: int, file_id: str) -> None:
    await store.set_preview(deps.sessions, rundown_id, epoch, position, file_id)


async def cue_changes(deps: Deps, rundown_id: int) -> list[tuple[int, list[str]]]:
    """Each cue's changes in words, task by task, from the payloads the approval binds."""
    async with deps.sessions() as session:
        cues = await store.cues_of(session, rundown_id)
        ids = {int(k) for c in cues for k in (c.payload or {})}
        tasks = {t.id: t for t in (await session.scalars(select(Task).where(Task.id.in_(ids)))).all()} if ids else {}
    found: list[tuple[int, list[str]]] = []
    for cue in cues:
        lines: list[str] = []
        for key, entry in (cue.payload or {}).items():
            task = tasks.get(int(key))
            if task is None:
                continue
            described = target_of(task).describe(entry["before"], entry["desired"]) or ["(no change)"]
            lines += [f"{task.alias}: {line}" for line in described]
        found.append((cue.position, lines))
    return found
