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
    from bot.cli.wording import terminal
    from bot.config import get_settings
    from bot.services.deps import Actor, Deps
    from bot.services.errors import ServiceError
    from bot.store import schema, session_factory

    async def main(engine: AsyncEngine) -> T:
        await schema.ensure_current(engine)
        settings = get_settings()
        registry = _registry(settings) if providers else cast("ProviderRegistry", _NoProviders())
        try:
            # with RTCOPS_AUDIT_WEBHOOK set, what the CLI does reaches the webhook too (bot.store.audit_feed)
            deps = Deps(session_factory(engine, audit_feed=bool(settings.audit_webhook_url)), registry, settings)
            return await work(deps, Actor.cli(team, getpass.getuser()))
        except ServiceError as exc:
            click.echo(f"error: {terminal(exc)}", err=True)
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
@click.argument("provider")
@click.argument("alias")
@click.argument("ids", nargs=-1, required=True)
@click.option("--canvas", help="Volcengine: WxH, used when Get cannot report it.")
@click.option("--business-id", help="Volcengine BusinessId.")
@click.option("--region", help="Tencent region (default TENCENTCLOUD_REGION).")
@click.option("--site", type=click.Choice(["intl", "china"]), help="Tencent site (default RTCOPS_TENCENT_SITE).")
@click.option("--channel", help="Slack channel ID for notifications.")
@click.option("--tags", default="", help="Comma-separated tags.")
@click.option("--stream-url", help="Tencent: the ingest's current source URL.")
@click.option("--volume", help="Tencent: the ingest's current Volume.")
@click.option("--paused/--running", "paused", default=None, help="Tencent: whether the ingest is paused now.")
@click.option(
    "--option", "extra", multiple=True, metavar="NAME=VALUE", help="Any other registration option of the task's target."
)
@click.option("--force", is_flag=True, help="Register even if the provider says the task does not exist.")
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
    volume: str | None,
    paused: bool | None,
    extra: tuple[str, ...],
    force: bool,
) -> None:
    """Register a task: volcengine ALIAS APPID ROOMID TASKID | tencent ALIAS SDKAPPID TASKID.

    The ids and options are checked by the task's target, exactly as `/rtc task add` checks them.
    Volcengine tasks are read with Get, and the configuration in force becomes version 1. Tencent cannot
    report an ingest's settings, so give them with --stream-url, --volume and --paused/--running: they are
    checked against the task's site and kept as version 1. Without them the task has no baseline, and its
    first change is merged onto an empty one (only the fields that change names are known).

    A Tencent TaskId may start with "-" and needs no "--" before it. A task the provider says does not
    exist is refused unless --force; a Volcengine task that Get does not find (Get only sees tasks started
    in the last 72 hours) is registered with a warning.
    """
    from bot.services import tasks as task_service

    _refuse_option_typos(ids)
    stated = {
        "canvas": canvas,
        "business-id": business_id,
        "region": region,
        "site": site,
        "channel": channel,
        "tags": tags or None,
        "url": stream_url,
        "volume": volume,
        "state": None if paused is None else ("paused" if paused else "running"),
    }
    options = {k: v for k, v in stated.items() if v is not None}
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--option")
        options[key] = value
    added = _run(team, lambda d, a: task_service.add_task(d, a, provider, alias, ids, options, force=force), providers=True)
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


def _when(value: str | None, option: str) -> datetime | None:
    from datetime import UTC

    from bot.services.audit import parse_when
    from bot.services.errors import BadInput

    if value is None:
        return None
    try:
        return parse_when(value, datetime.now(UTC))
    except BadInput as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.command()
@TEAM
@click.option("--task", "alias", help="Only events about this task.")
@click.option("--tag", help="Export: only events about the tasks with this tag.")
@click.option("--limit", type=click.IntRange(1, 1000), help="Listing: how many of the newest events, 1-1000 (default 50).")
@click.option("--since", help="Export from this time (inclusive): 7d, 12h, 30m ago, a date, or ISO 8601.")
@click.option("--until", help="Export up to this time (exclusive), written as --since.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "csv", "json"]), help="Export format: text, csv (RFC 4180), json (JSON Lines)."
)
def audit(
    team: str, alias: str | None, tag: str | None, limit: int | None, since: str | None, until: str | None, fmt: str | None
) -> None:
    """Show the audit trail: who changed what, with the provider's RequestId.

    Without --since, --until or --format: the newest events first (--limit, default 50). With any of them: an
    export, oldest first and with no upper limit, streamed a page at a time (its memory does not grow with
    the trail), as text, CSV with a header row, or JSON Lines (one object per line).
    """
    exporting = since is not None or until is not None or fmt is not None or tag is not None
    if not exporting:
        from bot.services.audit import list_audit, text_line

        events = _run(team, lambda d, a: list_audit(d, a, alias=alias, limit=limit or 50))
        if not events:
            click.echo(f"no audit events for task {alias}" if alias else "no audit events in this team", err=True)
        for e in events:
            click.echo(text_line(e))
        return
    if limit is not None:
        raise click.UsageError("--limit is for the listing of the newest events; an export has no limit")
    if alias is not None and tag is not None:
        raise click.UsageError("give --task or --tag, not both")
    begin, end = _when(since, "--since"), _when(until, "--until")
    _run(team, lambda d, a: _export(d, a, alias=alias, tag=tag, since=begin, until=end, fmt=fmt or "text"))


async def _export(
    deps: Deps, actor: Actor, *, alias: str | None, tag: str | None, since: datetime | None, until: datetime | None, fmt: str
) -> None:
    """Writes each line as soon as its page is read; stdout is flushed per page, so a reader sees it arrive."""
    from bot.services.audit import PAGE, Writer, export

    writer = Writer(fmt)  # type: ignore[arg-type]
    out = sys.stdout
    out.write(writer.header())
    count = 0
    async for e in export(deps, actor, alias=alias, tag=tag, since=since, until=until):
        out.write(writer.line(e))
        count += 1
        if count % PAGE == 0:
            out.flush()
    out.flush()
    if count == 0:
        click.echo("no audit events in that range", err=True)
