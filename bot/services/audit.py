"""The audit trail: written in the same transaction as the change it records, so neither exists without
the other; never updated or deleted (the database refuses that too).

An export (`rtcops audit --since …`, `/rtc audit …`) streams the trail oldest first, a page at a time by id, so
its memory does not grow with the number of events; `lines` turns it into CSV, JSON Lines or text.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import names
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput
from bot.services.permissions import Target, require, unknown_task
from bot.services.results import AuditEntry
from bot.store.models import AuditEvent, ChangeRequest, Task

ExportFormat = Literal["csv", "json", "text"]
PAGE = 1000
"""Events read per query of an export: a page is all an export holds at once."""
FIELDS = (
    "id", "at", "team_id", "actor", "action", "target", "task_alias", "change_request_id", "outcome", "detail",
    "provider_request_id", "before", "after",
)  # fmt: skip
_RELATIVE = re.compile(r"^(\d{1,5})([dhm])$")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def event(
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
) -> AuditEvent:
    """An audit row, not yet written: the store adds it in the transaction of what it records."""
    return AuditEvent(
        at=deps.clock(),
        team_id=actor.team_id,
        actor=actor.user_id,
        action=action,
        target=target[:200],
        task_alias=task_alias,
        change_request_id=change_request_id,
        before=before,
        after=after,
        provider_request_id=provider_request_id and provider_request_id[:128],
        outcome=outcome,
        detail=detail,
    )


def change_event(
    deps: Deps,
    actor: Actor,
    req: ChangeRequest,
    task: Task,
    action: str,
    outcome: str,
    detail: str = "",
    *,
    before: Any = None,
    after: Any = None,
    provider_request_id: str | None = None,
) -> AuditEvent:
    """An audit row about one stored change request: every step of one (a single change's or a bulk member's)
    names its task and its request the same way, so the trail of a task or a request finds them all."""
    return event(
        deps,
        actor,
        action,
        f"task:{task.alias}",
        outcome=outcome,
        task_alias=task.alias,
        change_request_id=req.id,
        before=before,
        after=after,
        provider_request_id=provider_request_id,
        detail=detail,
    )


def record(session: AsyncSession, deps: Deps, actor: Actor, action: str, target: str, **fields: Any) -> None:
    session.add(event(deps, actor, action, target, **fields))


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
    return [entry(e) for e in rows]


def entry(e: AuditEvent) -> AuditEntry:
    return AuditEntry(
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


def parse_when(text: str, now: datetime) -> datetime:
    """A point in time as an operator writes it: `7d`, `12h`, `30m` ago; a date (midnight UTC); or an ISO 8601
    time (UTC unless it names its zone). BadInput otherwise."""
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now - timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{text!r} is not a time: use 7d, 12h, 30m, 2030-01-31 or 2030-01-31T18:00:00+00:00") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


async def export(
    deps: Deps,
    actor: Actor,
    *,
    alias: str | None = None,
    tag: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AsyncIterator[AuditEntry]:
    """The actor's team's trail, oldest first, with no upper limit: of one task (admin on it), of the tasks
    tagged `tag` (admin on that tag), or all of it (a global admin). `since` is inclusive, `until` exclusive."""
    aliases: list[str] | None = None
    try:
        alias = names.alias(alias) if alias is not None else None
        tag = names.tag(tag) if tag is not None else None
    except names.InvalidName as exc:
        raise BadInput(str(exc)) from None
    if alias is not None:
        async with deps.sessions() as session:
            task = await session.scalar(select(Task).where(Task.team_id == actor.team_id, Task.alias == alias))
        scoped = Target(task.alias, task.provider, tuple(task.tags or ())) if task is not None else unknown_task(alias)
        await require(deps, actor, "admin", scoped)
        aliases = [alias]
    elif tag is not None:
        await require(deps, actor, "admin", Target("", "", (tag,)))
        async with deps.sessions() as session:
            tasks = (await session.scalars(select(Task).where(Task.team_id == actor.team_id, Task.removed_at.is_(None)))).all()
        aliases = sorted(t.alias for t in tasks if tag in (t.tags or ()))
    else:
        await require(deps, actor, "admin")
    after_id = 0
    while True:
        query = select(AuditEvent).where(AuditEvent.team_id == actor.team_id, AuditEvent.id > after_id)
        if aliases is not None:
            query = query.where(AuditEvent.task_alias.in_(aliases))
        if since is not None:
            query = query.where(AuditEvent.at >= since)
        if until is not None:
            query = query.where(AuditEvent.at < until)
        async with deps.sessions() as session:
            page = [entry(e) for e in (await session.scalars(query.order_by(AuditEvent.id).limit(PAGE))).all()]
        for found in page:
            yield found
        if len(page) < PAGE:
            return
        after_id = page[-1].id


def record_of(e: AuditEntry) -> dict[str, Any]:
    """One event as JSON-ready fields (the webhook posts this, the JSON export writes it)."""
    return {
        "id": e.id,
        "at": e.at.astimezone(UTC).isoformat(),
        "team_id": e.team_id,
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "task_alias": e.task_alias,
        "change_request_id": e.change_request_id,
        "outcome": e.outcome,
        "detail": e.detail,
        "provider_request_id": e.provider_request_id,
        "before": e.before,
        "after": e.after,
    }


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: JSON for structures, and a leading ' before what a spreadsheet
    would run as a formula (=, +, -, @: OWASP's CSV injection advice), since actors and details are typed by
    people."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "'" + text if text.startswith(_FORMULA) else text


def text_line(e: AuditEntry) -> str:
    pairs = (("request", e.change_request_id), ("RequestId", e.provider_request_id))
    extra: dict[str, Any] = {k: v for k, v in pairs if v}
    tail = json.dumps(extra) if extra else ""
    return f"{e.at.isoformat()}\t{e.actor}\t{e.action}\t{e.target}\t{e.outcome}\t{e.detail}\t{tail}"


class Writer:
    """Turns events into the lines of an export, one at a time: CSV (RFC 4180, a header first), JSON Lines (one
    object per line, what log pipelines and SIEMs read), or tab-separated text. Each line ends with its newline."""

    def __init__(self, fmt: ExportFormat) -> None:
        self.fmt = fmt
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")

    def header(self) -> str:
        return self._row(list(FIELDS)) if self.fmt == "csv" else ""

    def line(self, e: AuditEntry) -> str:
        if self.fmt == "csv":
            record = record_of(e)
            return self._row([record[f] if f in ("id", "change_request_id") else _cell(record[f]) for f in FIELDS])
        if self.fmt == "json":
            return json.dumps(record_of(e), ensure_ascii=False, sort_keys=True) + "\n"
        return text_line(e) + "\n"

    def _row(self, cells: list[Any]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._csv.writerow(cells)
        return self._buffer.getvalue()


async def export_csv(
    deps: Deps, actor: Actor, *, alias: str | None = None, tag: str | None = None, since: datetime | None = None
) -> tuple[bytes, int]:
    """A whole export as CSV bytes, for a file sent in Slack (which takes the file whole); with its event count."""
    writer = Writer("csv")
    out = io.StringIO()
    out.write(writer.header())
    count = 0
    async for e in export(deps, actor, alias=alias, tag=tag, since=since):
        count += 1
        out.write(writer.line(e))
    return out.getvalue().encode("utf-8"), count
