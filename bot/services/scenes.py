"""Scenes: named, saved configurations, proposed later like any change.

A scene is either what one task ran when it was saved (its configuration in force, read from the provider where
the target can, else the last one applied through rtcops), for tasks of the same target; or the words of one
change per command (`layout pip host,guest`, `ingest volume=30`), for any set of tasks. Every save is a new
version; a delete hides the scene, its versions stay; each save, delete and apply is audited.

Applying proposes the scene like any change, through the same rules: on one task a change request, on a selector
a bulk change. A saved configuration is merged onto what the task runs (a merge patch: what the scene holds is
set, what it does not hold is left as it is), so applying a scene from a task whose encoder setting another task
lacks does not reset that task's own.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot import names
from bot.domain import BulkPurpose
from bot.services import audit, bulk, bulk_members, catalogue, changes, selectors
from bot.services.changes import Change, Patch
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput, NotFound, PermissionDenied
from bot.services.permissions import checker, require_somewhere
from bot.services.results import ChangeResult
from bot.services.tasks import load_authorized, read_state, target_of, task_ref, task_scope
from bot.services.when import Timing
from bot.store.models import Scene, SceneVersion, Task


@dataclass(frozen=True)
class SceneInfo:
    name: str
    version: int
    version_id: int
    scope: str  # where it applies unless told otherwise: an alias or a selector
    provider: str | None  # the target a saved configuration is for
    configuration: dict[str, Any] | None
    changes: dict[str, list[str]] | None  # verb -> the words after `/rtc <verb> <alias>`
    source: str
    saved_by: str
    saved_at: datetime


@dataclass(frozen=True)
class ScenePlan:
    """What `scene apply` proposes: on which tasks, what on each, and how to say it."""

    scene: SceneInfo
    target: str  # an alias, or a selector's text
    selector: selectors.Selector | None  # None: one task
    plan: bulk.Plan
    summary: str


def _name(text: str) -> str:
    try:
        return names.alias(text)
    except names.InvalidName as exc:
        raise BadInput(f"scene name {text!r} is not valid: use {names.ALIAS_RULE}") from exc


def _info(scene: Scene, row: SceneVersion) -> SceneInfo:
    return SceneInfo(
        scene.name,
        row.version,
        row.id,
        row.scope,
        row.provider,
        row.configuration,
        row.changes,
        row.source,
        row.saved_by,
        row.saved_at,
    )


async def _save(deps: Deps, actor: Actor, name: str, row: SceneVersion, detail: str) -> SceneInfo:
    """A new version of `name` (the scene is made, or brought back, as needed), audited with it."""
    now = deps.clock()
    for _ in range(2):  # a second try when two saves of a new name raced and the other made it first
        try:
            async with deps.sessions.begin() as session:
                scene = await session.scalar(
                    select(Scene).where(Scene.team_id == actor.team_id, Scene.name == name).with_for_update()
                )
                if scene is None:
                    scene = Scene(team_id=actor.team_id, name=name, version=0, created_by=actor.user_id, created_at=now)
                    session.add(scene)
                    await session.flush()
                newest = await session.scalar(
                    select(SceneVersion.version)
                    .where(SceneVersion.scene_id == scene.id)
                    .order_by(SceneVersion.version.desc())
                    .limit(1)
                )
                row.scene_id, row.version, row.saved_by, row.saved_at = scene.id, (newest or 0) + 1, actor.user_id, now
                scene.version, scene.deleted_at = row.version, None
                session.add(row)
                await session.flush()
                audit.record(
                    session,
                    deps,
                    actor,
                    "scene.save",
                    f"scene:{name}",
                    after={"version": row.version, "scope": row.scope},
                    detail=detail[:1000],
                )
            return _info(scene, row)
        except IntegrityError:
            continue
    raise BadInput(f"scene {name} was being saved by someone else at the same moment; save it again")


async def save_from_task(deps: Deps, actor: Actor, alias: str, name: str) -> SceneInfo:
    """What `alias` runs now, as scene `name` (a new version if it exists). Needs operator on the task."""
    name = _name(name)
    task = await load_authorized(deps, actor, alias, "propose")
    state = await read_state(deps, task)
    configuration = state.in_force or task.configuration
    if not configuration:
        raise BadInput(
            f"nothing is known to be in force on {task.alias}: neither read from the provider nor applied through rtcops"
        )
    where = "read from the provider" if state.in_force else "last applied through rtcops"
    row = SceneVersion(
        scope=task.alias,
        provider=task.provider,
        configuration=copy.deepcopy(configuration),
        changes=None,
        source=f"{task.alias} v{task.version} ({where})"[:200],
    )
    return await _save(deps, actor, name, row, f"from {task.alias} v{task.version}, {where}")


def parse_changes(words: Sequence[str], verbs_of_set: Sequence[str]) -> dict[str, list[str]]:
    """`[<verb>] <words…> [<verb> <words…>]…` as verb -> words, each checked by its target's parser. Without a
    leading verb the words are for the one command the set's tasks take (`verbs_of_set`)."""
    known = {v.name for v in catalogue.verbs()}
    clauses: dict[str, list[str]] = {}
    current: str | None = None
    for word in words:
        if word.lower() in known and (current is None or clauses[current]):
            current = word.lower()
            if current in clauses:
                raise BadInput(f"{current} given twice in one scene")
            clauses[current] = []
        elif current is None:
            if len(set(verbs_of_set)) != 1:
                raise BadInput(f"say which command the words are for: {' or '.join(sorted(known))}")
            current = verbs_of_set[0]
            clauses[current] = [word]
        else:
            clauses[current].append(word)
    if not clauses or not all(clauses.values()):
        raise BadInput("give the change to save, e.g. pip host,guest")
    for verb, args in clauses.items():
        catalogue.parse_change(verb, args)
    return clauses


async def save_change(deps: Deps, actor: Actor, selector_text: str, name: str, words: Sequence[str]) -> SceneInfo:
    """The words of a change as scene `name`, for the tasks `selector_text` matches. Needs operator on each of
    them, as proposing it would."""
    name = _name(name)
    selector = selectors.parse(selector_text)
    matched = await selectors.resolve(deps, actor, selector)
    if not matched.tasks:
        raise BadInput(f"no task you may see matches {selector.text}")
    may = await checker(deps, actor, "propose")
    denied = [t.alias for t in matched.tasks if not may(task_scope(t)).allowed]
    if denied:
        raise PermissionDenied("save a scene for " + selector.text, f"you may not change {', '.join(denied[:10])}", "operator")
    verbs = [v.name for t in matched.tasks for v in target_of(t).verbs]
    clauses = parse_changes(words, list(dict.fromkeys(verbs)))
    row = SceneVersion(scope=selector.text, provider=None, configuration=None, changes=clauses, source="typed")
    return await _save(deps, actor, name, row, "; ".join(f"{v} {' '.join(w)}" for v, w in clauses.items()))


async def _current(deps: Deps, actor: Actor, name: str, version: int | None = None) -> SceneInfo:
    name = _name(name)
    async with deps.sessions() as session:
        scene = await session.scalar(select(Scene).where(Scene.team_id == actor.team_id, Scene.name == name))
        if scene is None or scene.deleted_at is not None:
            raise NotFound(f"scene {name}")
        row = await session.scalar(
            select(SceneVersion).where(SceneVersion.scene_id == scene.id, SceneVersion.version == (version or scene.version))
        )
    if row is None:
        raise NotFound(f"version {version} of scene {name}")
    return _info(scene, row)


async def show(deps: Deps, actor: Actor, name: str, version: int | None = None) -> tuple[SceneInfo, list[str]]:
    """A scene (its newest version unless asked) and what it sets, in words."""
    await require_somewhere(deps, actor, "view", "see scenes")
    scene = await _current(deps, actor, name, version)
    lines: list[str] = []
    if scene.configuration is not None and scene.provider is not None:
        async with deps.sessions() as session:
            task = await session.scalar(
                select(Task).where(Task.team_id == actor.team_id, Task.provider == scene.provider).limit(1)
            )
        if task is not None:
            lines = target_of(task).summarize(task_ref(task), scene.configuration)
    return scene, lines


async def list_scenes(deps: Deps, actor: Actor) -> list[SceneInfo]:
    await require_somewhere(deps, actor, "view", "see scenes")
    async with deps.sessions() as session:
        rows = (
            await session.execute(
                select(Scene, SceneVersion)
                .join(SceneVersion, (SceneVersion.scene_id == Scene.id) & (SceneVersion.version == Scene.version))
                .where(Scene.team_id == actor.team_id, Scene.deleted_at.is_(None))
                .order_by(Scene.name)
            )
        ).all()
    return [_info(scene, row) for scene, row in rows]


async def delete(deps: Deps, actor: Actor, name: str) -> SceneInfo:
    """Whoever saved its newest version, or an admin; the versions stay (and the audit trail says who)."""
    scene = await _current(deps, actor, name)
    if scene.saved_by != actor.user_id:
        await require_somewhere(deps, actor, "admin", f"delete scene {scene.name}")
    async with deps.sessions.begin() as session:
        row = await session.scalar(select(Scene).where(Scene.team_id == actor.team_id, Scene.name == scene.name))
        if row is None or row.deleted_at is not None:
            raise NotFound(f"scene {scene.name}")
        row.deleted_at = deps.clock()
        audit.record(session, deps, actor, "scene.delete", f"scene:{scene.name}", before={"version": scene.version})
    return scene


async def plan(deps: Deps, actor: Actor, name: str, target_text: str | None) -> ScenePlan:
    """What applying scene `name` on `target_text` (its own scope unless given) proposes on each task."""
    scene = await _current(deps, actor, name)
    target = target_text or scene.scope
    selector = selectors.parse(target) if selectors.is_selector(target) else None
    summary = f"scene {scene.name} v{scene.version}"

    def one(task: Task) -> Change | bulk_members.Refusal:
        if scene.configuration is not None:
            if task.provider != scene.provider:
                return bulk_members.Refusal(
                    task.alias, f"scene {scene.name} holds a {scene.provider} configuration; this is a {task.provider} task"
                )
            return Patch(copy.deepcopy(scene.configuration), summary)
        own = {v.name for v in target_of(task).verbs}
        verb = next((v for v in (scene.changes or {}) if v in own), None)
        if verb is None:
            return bulk_members.Refusal(task.alias, f"scene {scene.name} has no change for {task.provider} tasks")
        return catalogue.parse_change(verb, (scene.changes or {})[verb])

    return ScenePlan(scene, target, selector, one, summary)


async def record_apply(deps: Deps, actor: Actor, scene: SceneInfo, where: str, outcome: str) -> None:
    async with deps.sessions.begin() as session:
        audit.record(
            session,
            deps,
            actor,
            "scene.apply",
            f"scene:{scene.name}",
            after={"version": scene.version, "on": where},
            outcome=outcome,
        )


async def apply(
    deps: Deps,
    actor: Actor,
    name: str,
    target_text: str | None,
    *,
    channel: str | None,
    confirm: str | None = None,
    timing: Timing | None = None,
) -> ChangeResult | bulk_members.BulkResult | bulk_members.BulkPreview:
    """Proposes scene `name` like any change: on one task a change request, on a selector a bulk change."""
    planned = await plan(deps, actor, name, target_text)
    if planned.selector is None:
        task = await load_authorized(deps, actor, planned.target, "propose")
        change = planned.plan(task)
        if isinstance(change, bulk_members.Refusal):
            raise BadInput(change.reason)
        result: ChangeResult | bulk_members.BulkResult | bulk_members.BulkPreview = await changes.propose(
            deps, actor, task.alias, change, channel=channel, timing=timing
        )
    else:
        result = await bulk.propose(
            deps,
            actor,
            planned.selector,
            planned.plan,
            summary=planned.summary,
            channel=channel,
            confirm=confirm,
            purpose=BulkPurpose.SCENE,
            scene_version_id=planned.scene.version_id,
            timing=timing,
        )
    if not isinstance(result, bulk_members.BulkPreview):
        await record_apply(deps, actor, planned.scene, planned.target, "proposed")
    return result
