"""`rtcops task | grant | revoke | grants | audit`: administration without Slack.

The CLI acts as a system admin (`cli:<login>` in the audit trail): whoever can run it already holds
DATABASE_URL, so grants would protect nothing here.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli.db import run_with_engine
from bot.config import get_settings
from bot.providers.registry import ProviderRegistry
from bot.services import audit as audit_service
from bot.services import grants as grant_service
from bot.services import tasks as task_service
from bot.services.deps import Actor, Deps
from bot.services.errors import ServiceError
from bot.store import schema, session_factory

T = TypeVar("T")
TEAM = click.option("--team", required=True, help="Slack team ID (T…) the task or grant belongs to.")


def _run(team: str, work: Callable[[Deps, Actor], Awaitable[T]]) -> T:
    async def main(engine: AsyncEngine) -> T:
        await schema.ensure_current(engine)
        settings = get_settings()
        providers = ProviderRegistry.from_settings(settings)
        try:
            return await work(Deps(session_factory(engine), providers, settings), Actor.cli(team, getpass.getuser()))
        except ServiceError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        finally:
            await providers.aclose()

    return run_with_engine(main)


def _tags(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _canvas(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise click.BadParameter("use WIDTHxHEIGHT, e.g. 1280x720", param_hint="--canvas")
    return int(w), int(h)


@click.group()
def task() -> None:
    """Register, list, show and remove tasks."""


@task.command("add")
@TEAM
@click.argument("provider", type=click.Choice(["volcengine", "tencent"]))
@click.argument("alias")
@click.argument("ids", nargs=-1, required=True)
@click.option("--canvas", help="WxH, used when Get cannot report it (Volcengine).")
@click.option("--business-id", help="Volcengine BusinessId.")
@click.option("--region", help="Tencent region (default TENCENTCLOUD_REGION).")
@click.option("--site", type=click.Choice(["intl", "china"]), help="Tencent site (default RTCOPS_TENCENT_SITE).")
@click.option("--channel", help="Slack channel ID for notifications.")
@click.option("--tags", default="", help="Comma-separated tags.")
@click.option("--stream-url", help="Tencent: the ingest's current source URL.")
@click.option("--volume", type=int, help="Tencent: the ingest's current Volume.")
@click.option("--paused/--running", "paused", default=None, help="Tencent: whether the ingest is paused now.")
def task_add(
    team: str,
    provider: str,
    alias: str,
    ids: tuple[str, ...],
    canvas: str | None,
    business_id: str | None,
    region: str | None,
    site: str | None,
    channel: str | None,
    tags: str,
    stream_url: str | None,
    volume: int | None,
    paused: bool | None,
) -> None:
    """Register a task: volcengine ALIAS APPID ROOMID TASKID | tencent ALIAS SDKAPPID TASKID.

    Volcengine tasks are read with Get, and the configuration in force becomes version 1. Tencent cannot
    report an ingest's settings, so give them with --stream-url, --volume and --paused/--running: they are
    checked against the task's site and kept as version 1. Without them the task has no baseline, and its
    first change is merged onto an empty one (only the fields that change names are known).
    """
    spec: task_service.VolcengineTask | task_service.TencentTask
    stated: dict[str, Any] = {"StreamUrl": stream_url, "Volume": volume, "IsPause": paused}
    configuration = {k: v for k, v in stated.items() if v is not None}
    if provider == "volcengine":
        if configuration:
            raise click.UsageError("--stream-url, --volume and --paused/--running are for tencent tasks")
        if len(ids) != 3:
            raise click.UsageError("volcengine needs: ALIAS APPID ROOMID TASKID")
        spec = task_service.VolcengineTask(
            alias, ids[0], ids[1], ids[2], business_id=business_id, canvas=_canvas(canvas), tags=_tags(tags),
            notify_channel=channel,
        )  # fmt: skip
    else:
        if len(ids) != 2 or not ids[0].isdigit():
            raise click.UsageError("tencent needs: ALIAS SDKAPPID TASKID (SdkAppId is a number)")
        spec = task_service.TencentTask(
            alias, int(ids[0]), ids[1], region=region, site=site, tags=_tags(tags), notify_channel=channel,
            configuration=configuration,
        )  # fmt: skip
    added = _run(team, lambda d, a: task_service.add_task(d, a, spec))
    info = added.task
    click.echo(f"added {info.alias} ({info.provider}), version {info.version}, baseline {added.baseline_source}")
    if added.provider is not None:
        click.echo(f"provider: {added.provider.state}" + (f" ({added.provider.error})" if added.provider.error else ""))


@task.command("list")
@TEAM
def task_list(team: str) -> None:
    for info in _run(team, task_service.list_tasks):
        lock = f" locked by request #{info.open_request_id}" if info.open_request_id else ""
        click.echo(f"{info.alias}\t{info.provider}\tv{info.version}\t{','.join(info.tags)}{lock}")


@task.command("show")
@TEAM
@click.argument("alias")
def task_show(team: str, alias: str) -> None:
    status = _run(team, lambda d, a: task_service.show_task(d, a, alias))
    info = status.task
    click.echo(f"{info.alias} ({info.provider}) {json.dumps(info.identifiers)}")
    click.echo(f"version {info.version}, SequenceNumber {info.sequence_number}, policy {json.dumps(info.policy)}")
    click.echo(f"provider: {status.provider.state}" + (f" ({status.provider.error})" if status.provider.error else ""))
    for line in status.drift_lines:
        click.echo(f"drift: {line}")
    click.echo(json.dumps(info.configuration, indent=2, sort_keys=True))


@task.command("remove")
@TEAM
@click.argument("alias")
def task_remove(team: str, alias: str) -> None:
    removed = _run(team, lambda d, a: task_service.remove_task(d, a, alias))
    click.echo(f"removed {removed.alias}")


def _expiry(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("use ISO 8601 with a timezone, e.g. 2030-01-31T18:00:00+00:00", param_hint="--expires") from None
    if value.tzinfo is None:
        raise click.BadParameter("give a timezone, e.g. +00:00", param_hint="--expires")
    return value


@click.command()
@TEAM
@click.argument("subject")
@click.argument("role")
@click.argument("scope", required=False)
@click.option("--expires", help="ISO 8601 time with timezone when the grant ends.")
def grant(team: str, subject: str, role: str, scope: str | None, expires: str | None) -> None:
    """Give a user or user group a role, optionally in a scope.

    SUBJECT is U… or S…; ROLE is viewer, operator, approver or admin; SCOPE is task:<alias>, tag:<tag> or
    provider:<volcengine|tencent> (global when left out).
    """
    until = _expiry(expires)
    g = _run(team, lambda d, a: grant_service.grant(d, a, subject, role, scope, expires_at=until))
    click.echo(f"granted {g.role} on {g.scope} to {g.subject_type} {g.subject_id}")


@click.command()
@TEAM
@click.argument("subject")
@click.argument("role")
@click.argument("scope", required=False)
def revoke(team: str, subject: str, role: str, scope: str | None) -> None:
    """Take back every grant of exactly that role and scope from a user or user group."""
    count = _run(team, lambda d, a: grant_service.revoke(d, a, subject, role, scope))
    click.echo(f"revoked {count} grant(s)")


@click.command()
@TEAM
@click.argument("subject", required=False)
def grants(team: str, subject: str | None) -> None:
    """List unexpired grants, of one subject or of everyone, and the admins from RTCOPS_ADMIN_USERS."""
    for g in _run(team, lambda d, a: grant_service.list_grants(d, a, subject)):
        until = f" until {g.expires_at.isoformat()}" if g.expires_at else ""
        click.echo(f"{g.subject_type} {g.subject_id}\t{g.role}\t{g.scope}{until}\t(by {g.granted_by})")


@click.command()
@TEAM
@click.option("--task", "alias", help="Only events about this task.")
@click.option("--limit", default=50, show_default=True)
def audit(team: str, alias: str | None, limit: int) -> None:
    """Show the audit trail, newest first: who changed what, with the provider's RequestId."""
    for e in _run(team, lambda d, a: audit_service.list_audit(d, a, alias=alias, limit=limit)):
        pairs = (("request", e.change_request_id), ("RequestId", e.provider_request_id))
        extra: dict[str, Any] = {k: v for k, v in pairs if v}
        tail = json.dumps(extra) if extra else ""
        click.echo(f"{e.at.isoformat()}\t{e.actor}\t{e.action}\t{e.target}\t{e.outcome}\t{e.detail}\t{tail}")
