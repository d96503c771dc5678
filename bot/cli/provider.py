"""`rtcops provider …`: one direct provider call, for scripting and smoke tests.

Exit codes are a contract for scripts: 0 success (result JSON on stdout), 1 the provider refused or could
not be reached (one line on stderr with its code and RequestId), 2 our own validation refused the input
and nothing was sent.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from pydantic import BaseModel, ValidationError

from bot.config import Settings
from bot.providers.errors import InvalidRequest, ProviderError, validation_problems
from bot.providers.registry import ProviderRegistry
from bot.providers.reply import ProviderReply
from bot.providers.volcengine_models import UPDATABLE_SECTIONS, UpdatePushMixedStreamToCDN

T = TypeVar("T")


def _fail(lines: list[str], code: int) -> NoReturn:
    for line in lines:
        click.echo(" ".join(line.split()), err=True)
    sys.exit(code)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        _fail([f"error: invalid setting {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()], 2)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_none=True, mode="json")
    return value


class _ReadFailed(Exception):
    """The task could not be read before an Update, so the Update was not sent."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


class _RefusedAfterRead(InvalidRequest):
    """Our validation refused the Update once the task was read: the Get went out, the Update did not."""


def _run(call: Callable[[ProviderRegistry], Awaitable[ProviderReply[T]]]) -> None:
    """Run one call on a fresh registry and turn every expected failure into its exit code."""

    async def main() -> ProviderReply[T]:
        registry = ProviderRegistry.from_settings(_settings())
        try:
            return await call(registry)
        finally:
            await registry.aclose()

    try:
        reply = asyncio.run(main())
    except _RefusedAfterRead as exc:
        lines = [f"invalid: {p}" for p in exc.problems]
        _fail([*lines, "the Update was not sent (the task was read to check it against what it runs with)"], 2)
    except InvalidRequest as exc:
        _fail([f"invalid: {p}" for p in exc.problems] + ["nothing was sent"], 2)
    except _ReadFailed as exc:
        _fail([f"error: {exc.error}", "the Update was not sent: the task could not be read; --no-read sends it unread"], 1)
    except ProviderError as exc:
        _fail([f"error: {exc}"], 1)
    out = {"Action": reply.action, "RequestId": reply.request_id, "Result": _jsonable(reply.result)}
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    if reply.action == "UpdateStreamIngest" and getattr(reply.result, "exists", True) is False:
        # a successful answer that says the ingest is gone: nothing was updated
        gone = f"error: the ingest does not exist at Tencent (Status NotExist, RequestId {reply.request_id}); nothing was updated"
        _fail([gone], 1)


def _body_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        _fail([f"invalid: --body-file {path}: {exc.strerror or exc}", "nothing was sent"], 2)
    except (ValueError, UnicodeDecodeError) as exc:
        _fail([f"invalid: --body-file {path} is not JSON: {exc}", "nothing was sent"], 2)
    if not isinstance(data, dict):
        _fail([f"invalid: --body-file {path} must hold a JSON object", "nothing was sent"], 2)
    other = sorted(set(data) - set(UPDATABLE_SECTIONS))
    if other:
        allowed = ", ".join(UPDATABLE_SECTIONS)
        _fail([f"invalid: --body-file: {', '.join(other)} not allowed here; it holds only {allowed}", "nothing was sent"], 2)
    return data


@click.group()
def provider() -> None:
    """Call a provider directly with the configured credentials (never printed)."""


@provider.group()
def volcengine() -> None:
    """Volcengine RTC mixed-stream push to CDN."""


@volcengine.command("update")
@click.option("--app-id", required=True)
@click.option("--room-id", required=True)
@click.option("--task-id", required=True)
@click.option(
    "--body-file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON with TargetStreams, Layout, Encode and/or Control, in the provider's names.",
)
@click.option("--sequence-number", type=int, default=None, help="Applied only if greater than the last one applied.")
@click.option("--partial", is_flag=True, help="Send IsUpdatePartialParam: only what the file holds changes.")
@click.option(
    "--reset-omitted",
    is_flag=True,
    help="Full replace on purpose: every section the file leaves out is reset to its defaults.",
)
@click.option(
    "--no-read",
    is_flag=True,
    help="Send without reading the task first (its canvas, audio profile and streams then go unchecked).",
)
def volcengine_update(
    app_id: str,
    room_id: str,
    task_id: str,
    body_file: Path,
    sequence_number: int | None,
    partial: bool,
    reset_omitted: bool,
    no_read: bool,
) -> None:
    """UpdatePushMixedStreamToCDN.

    \b
    Without --partial the provider treats an update as a full replace: it resets every updatable field
    the body leaves out, including fields left out inside a section it does send. So a file that lacks
    any of TargetStreams, Layout, Encode or Control is refused (exit 2, nothing sent) unless you say
    what you mean:
      --partial        change only what the file holds (arrays such as Regions are sent whole);
      --reset-omitted  reset the missing sections to their defaults on purpose.
    A file that holds all four sections needs neither.

    \b
    The task is read first (GetPushMixedStreamToCDNTask), so the body is checked as the bot checks it: against
    the canvas size and audio profile the task started with, and, with --partial, against the streams and
    regions it runs. --no-read skips that read (e.g. for a task started more than 72 hours ago, which Get no
    longer sees).
    """
    if partial and reset_omitted:
        _fail(["invalid: --partial and --reset-omitted contradict each other; choose one", "nothing was sent"], 2)
    sections = _body_file(body_file)
    missing = [name for name in UPDATABLE_SECTIONS if sections.get(name) is None]
    if missing and not (partial or reset_omitted):
        names = ", ".join(missing)
        _fail(
            [
                f"invalid: --body-file leaves out {names}; a full replace would reset {names} to the defaults. "
                "Pass --partial to change only what the file holds, or --reset-omitted to reset them on purpose",
                "nothing was sent",
            ],
            2,
        )
    body: dict[str, Any] = {**sections, "AppId": app_id, "RoomId": room_id, "TaskId": task_id}
    if sequence_number is not None:
        body["SequenceNumber"] = sequence_number
    if partial:
        body["IsUpdatePartialParam"] = True
    try:
        model = UpdatePushMixedStreamToCDN.model_validate(body)
    except ValidationError as exc:
        _fail([f"invalid: {p}" for p in validation_problems(exc)] + ["nothing was sent"], 2)
    _run(lambda r: _update_after_reading(r, model, read=not no_read))


async def _update_after_reading(
    registry: ProviderRegistry, model: UpdatePushMixedStreamToCDN, *, read: bool
) -> ProviderReply[str]:
    """Read the task, then validate the body again with what the task runs with, as the services do."""
    client = registry.volcengine
    if not read:
        return await client.update_push_mixed_stream_to_cdn(model)
    query = {"AppId": model.app_id, "RoomId": model.room_id, "TaskId": model.task_id}
    try:
        got = await client.get_push_mixed_stream_to_cdn_task(query)
    except ProviderError as exc:
        raise _ReadFailed(exc) from None
    info = got.result.push_mixed_stream_to_cdn_task
    if info is None:
        raise _RefusedAfterRead([f"GetPushMixedStreamToCDNTask reported no task {model.task_id} (RequestId {got.request_id})"])
    try:
        checked = UpdatePushMixedStreamToCDN.model_validate(model.body(), context=info.update_context())
    except ValidationError as exc:
        raise _RefusedAfterRead(validation_problems(exc)) from None
    return await client.update_push_mixed_stream_to_cdn(checked)


@volcengine.command("get")
@click.option("--app-id", required=True)
@click.option("--room-id", required=True)
@click.option("--task-id", required=True)
def volcengine_get(app_id: str, room_id: str, task_id: str) -> None:
    """GetPushMixedStreamToCDNTask (tasks started in the last 72 hours)."""
    query = {"AppId": app_id, "RoomId": room_id, "TaskId": task_id}
    _run(lambda r: r.volcengine.get_push_mixed_stream_to_cdn_task(query))


@provider.group()
def tencent() -> None:
    """Tencent TRTC stream ingest (site from RTCOPS_TENCENT_SITE)."""


@tencent.command("update-ingest")
@click.option("--sdk-app-id", required=True, type=int)
@click.option("--task-id", required=True)
@click.option("--stream-url", default=None)
@click.option("--volume", type=int, default=None)
@click.option("--pause/--resume", "pause", default=None, help="Pause or resume the ingest (still billed).")
@click.option("--region", default=None, help="Default: TENCENTCLOUD_REGION.")
def tencent_update_ingest(
    sdk_app_id: int,
    task_id: str,
    stream_url: str | None,
    volume: int | None,
    pause: bool | None,
    region: str | None,
) -> None:
    """UpdateStreamIngest: change the source URL, volume or pause state."""
    body: dict[str, Any] = {"SdkAppId": sdk_app_id, "TaskId": task_id}
    for name, value in (("StreamUrl", stream_url), ("Volume", volume), ("IsPause", pause)):
        if value is not None:
            body[name] = value
    _run(lambda r: r.tencent().update_stream_ingest(body, region=region))


@tencent.command("describe-ingest")
@click.option("--sdk-app-id", required=True, type=int)
@click.option("--task-id", required=True)
@click.option("--region", default=None, help="Default: TENCENTCLOUD_REGION.")
def tencent_describe_ingest(sdk_app_id: int, task_id: str, region: str | None) -> None:
    """DescribeStreamIngest: InProgress, or NotExist when the task is gone."""
    body = {"SdkAppId": sdk_app_id, "TaskId": task_id}
    _run(lambda r: r.tencent().describe_stream_ingest(body, region=region))
