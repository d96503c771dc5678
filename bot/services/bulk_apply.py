"""Applying the tasks of a bulk change: each its own request, SequenceNumber and verdict, at the provider's pace.

The applier hands over the approved members of one bulk on one target (a provider set); sets of different
targets run side by side, each held only by its own provider's limit. What is per task is what a change of
one task does (`bot.services.applying`): the move to applying only while the task is at the version it was
proposed against, a SequenceNumber past every earlier one, the send, and a verdict only when it is known, with
every unanswered send settled by `applying.settle` exactly as for one change. What is batched is the store's
bookkeeping: members move to applying a chunk per transaction, and accepted answers are recorded a batch per
transaction (`bot.store.bulks`), so that a set of 200 tasks spends its time in provider calls, not in commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.domain import ChangeState
from bot.failpoints import failpoint
from bot.services import bulk_notices
from bot.services.applying import applied_event, approved_since, end_request, settle
from bot.services.changes import request_hash as payload_hash_of
from bot.services.deps import Actor, Deps
from bot.services.tasks import target_of, task_ref
from bot.store import bulks as store
from bot.store.models import AuditEvent, ChangeRequest, Notice, Task
from bot.targets.base import Applied, Target

log = logging.getLogger("rtcops.bulk")

FIRST_CHUNK = 10
"""Members moved to applying in the first transaction, so that the first sends start after a small commit; the
rest of the set follows in one more (two statements each, whatever their size)."""
READ_CHUNK = 50
"""Members read (with their configurations) per query: the event loop is never held long by one read, so the
pace of another provider's set does not slip meanwhile."""
FLUSH_SECONDS = 0.2
FLUSH_MAX = 100
"""Accepted answers are recorded at most this long after they arrive (at once once the set's last answer is in),
and at most this many per transaction. Fewer, larger transactions leave the event loop free for the other
provider's set, whose pace slips by every millisecond the loop is late (bench/bulk.py: 50 ms batches cost the
slower set about a twentieth of its rate on this machine)."""


async def apply_set(deps: Deps, actor: Actor, request_ids: Sequence[int]) -> None:
    """Applies the approved requests among `request_ids` (members of a bulk), one provider set per target, the
    sets side by side: the first few of every set are read and started before the rest of any is even read, so
    that no provider waits for another's bookkeeping. Requests another process took, or that are no longer
    approved, are left alone."""
    async with deps.sessions() as session:
        found = (
            await session.execute(
                select(ChangeRequest.id, Task.provider)
                .join(Task, Task.id == ChangeRequest.task_id)
                .where(ChangeRequest.id.in_(list(request_ids)), ChangeRequest.state == ChangeState.APPROVED)
                .order_by(ChangeRequest.id)
            )
        ).all()
    sets: dict[str, list[int]] = {}
    for request_id, provider in found:
        sets.setdefault(provider, []).append(request_id)
    recorder = _Recorder(deps, actor)
    sends: list[asyncio.Task[None]] = []
    with deps.signals.bulks.running():
        try:
            for first in (True, False):
                for ids in sets.values():
                    part = ids[:FIRST_CHUNK] if first else ids[FIRST_CHUNK:]
                    for start in range(0, len(part), READ_CHUNK):
                        sends += await _start(deps, actor, await _read(deps, part[start : start + READ_CHUNK]), recorder)
                if first:
                    deps.signals.deliver.set()  # the approval's notice, held back until every set has started
            await asyncio.gather(*sends)
        finally:
            await recorder.close()


async def _read(deps: Deps, request_ids: list[int]) -> list[tuple[ChangeRequest, Task]]:
    if not request_ids:
        return []
    async with deps.sessions() as session:
        rows = await session.execute(
            select(ChangeRequest, Task)
            .join(Task, Task.id == ChangeRequest.task_id)
            .where(ChangeRequest.id.in_(request_ids), ChangeRequest.state == ChangeState.APPROVED)
            .order_by(ChangeRequest.id)
        )
        return [(req, task) for req, task in rows.all()]


async def _start(
    deps: Deps, actor: Actor, part: list[tuple[ChangeRequest, Task]], recorder: _Recorder
) -> list[asyncio.Task[None]]:
    """Moves `part` (of one target) to applying, those still in time and at their version, and starts their sends."""
    if not part:
        return []
    target = target_of(part[0][1])
    tasks = {req.id: task for req, task in part}
    recorder.know(tasks)
    ttl = timedelta(minutes=deps.settings.request_ttl_minutes)
    chunk: list[ChangeRequest] = []
    now = deps.clock()
    for req, task in part:
        if now - approved_since(req) > ttl:
            reason = "it was approved but could not be applied in time (rtcops was not running); propose again"
            await end_request(deps, actor, req, task, ChangeState.EXPIRED, reason, action="change.expire")
        elif payload_hash_of(req) != req.payload_hash:  # what was approved is not what would be sent
            await end_request(deps, actor, req, task, ChangeState.STALE, "payload changed", action="change.stale")
        else:
            chunk.append(req)
    started, moved = await store.begin_apply_many(deps.sessions, chunk, now=now, sequenced=target.uses_sequence_number)
    for req in moved:
        reason = f"{tasks[req.id].alias} was changed since this was approved"
        await end_request(deps, actor, req, tasks[req.id], ChangeState.STALE, reason, action="change.stale")
    loop = asyncio.get_running_loop()
    return [loop.create_task(_send(deps, actor, target, req, tasks[req.id], recorder)) for req in started]


async def _send(deps: Deps, actor: Actor, target: Target, req: ChangeRequest, task: Task, recorder: _Recorder) -> None:
    try:
        sent = await target.send(deps.providers, task_ref(task), req.desired, req.baseline, req.sequence_number)
        failpoint("after-provider-answer")
        if isinstance(sent, Applied):
            recorder.add(req, sent.request_id)
        else:
            await settle(deps, actor, req, task, sent)
    except Exception:  # the request stays applying: the sweep settles it by sending it again
        log.exception("applying request #%s of bulk #%s failed unexpectedly", req.id, req.bulk_id)


class _Recorder:
    """Accepted answers waiting to be recorded: one transaction for each batch, at most FLUSH_SECONDS after
    the first of it arrived, and one progress notice per bulk per batch."""

    def __init__(self, deps: Deps, actor: Actor) -> None:
        self._deps, self._actor = deps, actor
        self._tasks: dict[int, Task] = {}
        self._waiting: list[tuple[ChangeRequest, str]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closing = asyncio.Event()  # the last answers are in: record them without waiting

    def know(self, tasks: dict[int, Task]) -> None:
        self._tasks.update(tasks)

    def add(self, req: ChangeRequest, request_id: str) -> None:
        self._waiting.append((req, request_id))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLUSH_SECONDS):
                await self._closing.wait()
        while self._waiting:
            await self._flush()

    async def _flush(self) -> None:
        async with self._lock:
            batch, self._waiting = self._waiting[:FLUSH_MAX], self._waiting[FLUSH_MAX:]
            if not batch:
                return
            now = self._deps.clock()
            accepted = [(req, request_id, self._event(req, request_id)) for req, request_id in batch]
            try:
                await store.finish_applied_many(
                    self._deps.sessions, accepted, now=now, notices_for=lambda done: _progress(done, now)
                )
            except Exception:  # the requests stay applying: the sweep settles them by sending them again
                log.exception("recording %d accepted updates failed", len(batch))
            # The deliverer is not woken: the progress notices are due at the next whole second, and it polls
            # twice a second; waking it for every batch only made it look for them in vain.

    def _event(self, req: ChangeRequest, request_id: str) -> AuditEvent:
        return applied_event(self._deps, self._actor, req, self._tasks[req.id], request_id)

    async def close(self) -> None:
        self._closing.set()
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher
        while self._waiting:
            await self._flush()


def _progress(done: Sequence[ChangeRequest], now: datetime) -> list[Notice]:
    by_bulk: dict[tuple[str, int], list[int]] = {}
    for req in done:
        if req.bulk_id is not None:
            by_bulk.setdefault((req.team_id, req.bulk_id), []).append(req.id)
    return [bulk_notices.progress(team, bulk_id, ids, now) for (team, bulk_id), ids in by_bulk.items()]
