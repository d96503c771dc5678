"""`rtcops task | grant | revoke | grants | audit`: administration without Slack.

The CLI acts as a system admin (`cli:<login>` in the audit trail): whoever can run it already holds
DATABASE_URL, so grants would protect nothing here.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.config import Settings
    from bot.providers.registry import ProviderRegistry
    from bot.services.deps import Actor, Deps

# The services, the store and the provider clients are imported inside the commands: `rtcops task --help`
# and the commands that never call a provider then skip most of their import time.

T = TypeVar("T")
TEAM = click.option("--team", required=True, help="Slack team ID (T…) the task or grant belongs to.")
_OPTION_TYPO = re.compile(r"^--[a-z][a-z-]*(=.*)?$")


def _run(team: str, work: Callable[[Deps, Actor], Awaitable[T]], *, providers: bool = False) -> T:
    """Runs one service call as the CLI's system actor; a refusal is one line on stderr and exit 1.
    Without `providers` the registry is not even imported: no provider may be called then."""
    import getpass

    from bot.cli.db import run_with_engine
    from bot.config import get_settings
    from bot.services.deps import Actor, Deps
    from bot.services.errors import ServiceError
    from bot.store import schema, session_factory

    async def main(engine: AsyncEngine) -> T:
        await schema.ensure_current(engine)
        settings = get_settings()
        registry = _registry(settings) if providers else cast("ProviderRegistry", _NoProviders())
        try:
            deps = Deps(session_factory(engine), registry, settings)
            return await work(deps, Actor.cli(team, getpass.getuser()))
        except ServiceError as exc:
            click.echo(f"error: {exc.terminal}", err=True)
            sys.exit(1)
        finally:
            await registry.aclose()

    return run_with_engine(main)


def _registry(settings: Settings) -> ProviderRegistry:
    from bot.providers.registry import ProviderRegistry

    return ProviderRegistry.from_settings(settings)


class _NoProviders:
    """Stands in for the provider registry in commands that only read or write the store."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"this command does not call providers (asked for {name!r})")

    async def aclose(self) -> None:
        return None


def _tags(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _canvas(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise click.BadParameter("use WIDTHxHEIGHT, e.g. 1280x720", param_hint="--canvas")
    return int(w), int(h)


def _refuse_option_typos(ids: tuple[str, ...]) -> None:
    """Unknown options are let through as ids (a TaskId may start with "-"), so a mistyped long option
    (`--volum 5`) is caught here rather than registered as an id."""
    import difflib

    typo = next((i.partition("=")[0] for i in ids if _OPTION_TYPO.match(i)), None)
    if typo is None:
        return
    ctx = click.get_current_context()
    known = [o for p in ctx.command.params for o in p.opts if o.startswith("--")]
    raise click.NoSuchOption(typo, possibilities=difflib.get_close_matches(typo, known), ctx=ctx)


@click.group()
def task() -> None:
    """Register, list, show and remove tasks."""


@task.command("add", context_settings={"ignore_unknown_options": True})
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
@click.option("--force", is_flag=True, help="Tencent: register even if Describe says the task does not exist.")
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
    force: bool,
) -> None:
    """Register a task: volcengine ALIAS APPID ROOMID TASKID | tencent ALIAS SDKAPPID TASKID.

    Volcengine tasks are read with Get, and the configuration in force becomes version 1. Tencent cannot
    report an ingest's settings, so give them with --stream-url, --volume and --paused/--running: they are
    checked against the task's site and kept as version 1. Without them the task has no baseline, and its
    first change is merged onto an empty one (only the fields that change names are known).

    A Tencent TaskId may start with "-" and needs no "--" before it. A Tencent task that Describe reports
    as NotExist is refused unless --force; a Volcengine task that Get does not find (Get only sees tasks
    started in the last 72 hours) is registered with a warning.
    """
    from bot.services import tasks as task_service

    _refuse_option_typos(ids)
    spec: task_service.VolcengineTask | task_service.TencentTask
    stated: dict[str, Any] = {"StreamUrl": stream_url, "Volume": volume, "IsPause": paused}
    configuration = {k: v for k, v in stated.items() if v is not None}
    if provider == "volcengine":
        if configuration or force:
            raise click.UsageError("--stream-url, --volume, --paused/--running and --force are for tencent tasks")
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
    added = _run(team, lambda d, a: task_service.add_task(d, a, spec, force=force), providers=True)
    info = added.task
    click.echo(f"added {info.alias} ({info.provider}), version {info.version}, baseline {added.baseline_source}")
    if added.provider is not None:
        click.echo(f"provider: {added.provider.state}")
    for warning in added.warnings:
        click.echo(f"warning: {warning}", err=True)


@task.command("list")
@TEAM
def task_list(team: str) -> None:
    from bot.services.tasks import list_tasks

    for info in _run(team, list_tasks):
        lock = f" locked by request #{info.open_request_id}" if info.open_request_id else ""
        click.echo(f"{info.alias}\t{info.provider}\tv{info.version}\t{','.join(info.tags)}{lock}")


@task.command("show")
@TEAM
@click.argument("alias")
def task_show(team: str, alias: str) -> None:
    from bot.services.tasks import show_task

    status = _run(team, lambda d, a: show_task(d, a, alias), providers=True)
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
    from bot.services.tasks import remove_task

    removed = _run(team, lambda d, a: remove_task(d, a, alias))
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
    from bot.services import grants as grant_service

    until = _expiry(expires)
    g = _run(team, lambda d, a: grant_service.grant(d, a, subject, role, scope, expires_at=until))
    click.echo(f"granted {g.role} on {g.scope} to {g.subject_type} {g.subject_id}")


@click.command()
@TEAM
@click.argument("subject")
@click.argument("role")
@click.argument("scope", required=False)
def revoke(team: str, subject: str, role: str, scope: str | None) -> None:
    """Take back the grant of exactly that role and scope from a user or user group."""
    from bot.services import grants as grant_service

    count = _run(team, lambda d, a: grant_service.revoke(d, a, subject, role, scope))
    click.echo(f"revoked {count} grant(s)")


@click.command()
@TEAM
@click.argument("subject", required=False)
def grants(team: str, subject: str | None) -> None:
    """List unexpired grants, of one subject or of everyone, and the admins from RTCOPS_ADMIN_USERS."""
    from bot.services import grants as grant_service

    for g in _run(team, lambda d, a: grant_service.list_grants(d, a, subject)):
        until = f" until {g.expires_at.isoformat()}" if g.expires_at else ""
        click.echo(f"{g.subject_type} {g.subject_id}\t{g.role}\t{g.scope}{until}\t(by {g.granted_by})")


@click.command()
@TEAM
@click.option("--task", "alias", help="Only events about this task.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000), help="How many events, 1-1000.")
def audit(team: str, alias: str | None, limit: int) -> None:
    """Show the audit trail, newest first: who changed what, with the provider's RequestId."""
    from bot.services.audit import list_audit

    events = _run(team, lambda d, a: list_audit(d, a, alias=alias, limit=limit))
    if not events:
        click.echo(f"no audit events for task {alias}" if alias else "no audit events in this team", err=True)
    for e in events:
        pairs = (("request", e.change_request_id), ("RequestId", e.provider_request_id))
        extra: dict[str, Any] = {k: v for k, v in pairs if v}
        tail = json.dumps(extra) if extra else ""
        click.echo(f"{e.at.isoformat()}\t{e.actor}\t{e.action}\t{e.target}\t{e.outcome}\t{e.detail}\t{tail}")
