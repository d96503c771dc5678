"""The layout and ingest editors.

Opening: the modal opens at once with a loading view (a trigger_id lives about 3 s), and is filled in with
views.update, passing the hash so a newer update is never overwritten by an older one.

Submitting: the form is checked through the provider models and the layout presets, which are pure and
fast, so mistakes come back in the acknowledgement as field errors (response_action: errors) and nothing
is stored. Only a valid form is acknowledged and becomes a proposal through the services.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.layouts.presets import PRESETS, PresetError, StreamRef, build_preset, parse_stream_refs
from bot.providers.errors import validation_problems
from bot.providers.tencent_models import VOLUME_MAX, UpdateStreamIngest
from bot.providers.volcengine_models import Canvas, Region
from bot.services import changes, tasks
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput, PermissionDenied, ServiceError
from bot.services.permissions import authorize
from bot.services.results import ChangeResult, TaskStatus
from handlers import actor_of, blocks, deps_of, grammar
from handlers.actions import publish
from handlers.errors import guarded, message_for

Errors = dict[str, str]


# --- opening -----------------------------------------------------------------------------------------


async def open_editor(
    deps: Deps,
    actor: Actor,
    client: AsyncWebClient,
    trigger_id: str,
    cmd: grammar.OpenLayoutEditor | grammar.OpenIngestEditor,
    channel: str | None,
) -> None:
    layout = isinstance(cmd, grammar.OpenLayoutEditor)
    callback = blocks.LAYOUT_EDITOR if layout else blocks.INGEST_EDITOR
    opened = await client.views_open(
        trigger_id=trigger_id, view=blocks.loading_modal("Layout editor" if layout else "Ingest editor", callback)
    )
    view_id, view_hash = opened["view"]["id"], opened["view"]["hash"]
    try:
        status = await tasks.show_task(deps, actor, cmd.alias)
        decision = await authorize(deps, actor, "propose", status.task)
        if not decision.allowed:
            raise PermissionDenied("propose", decision.reason, decision.missing_role)
        view = _layout_view(status, channel) if layout else _ingest_view(status, channel)
    except ServiceError as exc:
        await client.views_update(view_id=view_id, hash=view_hash, view=blocks.notice_modal("Cannot edit", message_for(exc)[0]))
        raise
    await client.views_update(view_id=view_id, hash=view_hash, view=view)


def _layout_view(status: TaskStatus, channel: str | None) -> dict[str, Any]:
    task = status.task
    if task.provider != "volcengine":
        raise BadInput(f"{task.alias} is a {task.provider} task: use `/rtc ingest {task.alias}`")
    if task.canvas is None:
        raise BadInput(f"{task.alias} has no known canvas size; an admin registers it again with canvas=WxH")
    config = status.provider.in_force or task.configuration or {}
    stream_list = sorted((config.get("TargetStreams") or {}).get("StreamList") or [], key=lambda s: s.get("Index", 0))
    labels = {s.get("Index"): StreamRef(s.get("UserId", "?"), s.get("StreamType", 0)).label for s in stream_list}
    custom = (config.get("Layout") or {}).get("CustomLayout") or {}
    regions = [
        blocks.RegionLine(
            r["StreamIndex"],
            labels.get(r["StreamIndex"], "?"),
            " ".join(f"{r.get(k, 0):g}" for k in ("LocationX", "LocationY", "WidthProportion", "HeightProportion"))
            + f" {r.get('ZOrder', 0)}",
        )
        for r in sorted(custom.get("Regions") or [], key=lambda r: r.get("StreamIndex", 0))
    ]
    presets = [(p.name, p.summary) for p in PRESETS.values()]
    hint = "name=value, space separated. " + "; ".join(
        f"{p.name}: {', '.join(o.name for o in p.all_options())}" for p in PRESETS.values()
    )
    return blocks.layout_modal(
        task.alias,
        channel,
        task.canvas,
        presets,
        [labels[i] for i in sorted(labels)],
        regions,
        (custom.get("Canvas") or {}).get("Background"),
        hint,
    )


def _ingest_view(status: TaskStatus, channel: str | None) -> dict[str, Any]:
    task = status.task
    if task.provider != "tencent":
        raise BadInput(f"{task.alias} is a {task.provider} task: use `/rtc layout {task.alias}`")
    site = task.identifiers.get("Site") or "intl"
    config = task.configuration or {}
    return blocks.ingest_modal(
        task.alias, channel, site, config.get("StreamUrl"), config.get("Volume"), config.get("IsPause"), VOLUME_MAX.get(site, 100)
    )


# --- reading a submission ----------------------------------------------------------------------------


def _value(values: dict[str, Any], block_id: str) -> str:
    state = (values.get(block_id) or {}).get("value") or {}
    if "selected_option" in state:
        return str((state.get("selected_option") or {}).get("value") or "")
    return str(state.get("value") or "").strip()


def _initial(view: dict[str, Any], block_id: str) -> str:
    for block in view.get("blocks") or []:
        if block.get("block_id") == block_id:
            element = block.get("element") or {}
            if "initial_option" in element:
                return str(element["initial_option"].get("value") or "")
            return str(element.get("initial_value") or "").strip()
    return ""


def _tagged(view: dict[str, Any], prefix: str) -> str | None:
    """A value the view carries in one of its own block_ids (canvas size, site)."""
    return next(
        (str(b["block_id"])[len(prefix) :] for b in view.get("blocks") or [] if str(b.get("block_id", "")).startswith(prefix)),
        None,
    )


@dataclass
class LayoutForm:
    preset: str | None = None
    refs: list[StreamRef] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    region: tuple[int, dict[str, Any]] | None = None
    background: str | None = None


def _problems(exc: ValidationError) -> str:
    return "; ".join(validation_problems(exc))


def _preset_field(message: str) -> str:
    if "option background" in message:
        return "background"
    if " option " in message or "has no option" in message:
        return "options"
    if "stream" in message or " takes " in message:
        return "streams"
    return "preset"


def read_layout(view: dict[str, Any]) -> tuple[LayoutForm, Errors]:
    values = (view.get("state") or {}).get("values") or {}
    form, errors = LayoutForm(), Errors()
    preset = _value(values, "preset")
    background = _value(values, "background")
    if background and background != _initial(view, "background"):
        try:
            Canvas.model_validate({"Background": background})
        except ValidationError as exc:
            errors["background"] = _problems(exc)
    if preset != blocks.KEEP_REGIONS:
        try:
            form.refs = parse_stream_refs(_value(values, "streams").replace("\n", ","))
        except PresetError as exc:
            errors["streams"] = str(exc)
        for word in _value(values, "options").split():
            key, sep, val = word.partition("=")
            if not sep or not key or not val:
                errors["options"] = f"{word!r} is not name=value"
            else:
                form.options[key] = val
        if background:
            form.options["background"] = background
        canvas = (_tagged(view, "canvas_") or "").partition("x")
        if not errors:
            try:
                build_preset(preset, (int(canvas[0]), int(canvas[2])), form.refs, **form.options)
            except PresetError as exc:
                errors[_preset_field(str(exc))] = str(exc)
            except ValueError:
                errors["preset"] = "the editor lost the canvas size; open it again"
        form.preset = preset
        return form, errors
    edited = [(b, _value(values, b)) for b in values if b.startswith("region_") and _value(values, b) != _initial(view, b)]
    for n, (block_id, text) in enumerate(edited):
        if n:
            errors[block_id] = "edit one region per proposal (or pick a preset)"
            continue
        index = int(block_id.removeprefix("region_"))
        parts = text.split()
        try:
            if len(parts) not in (4, 5):
                raise ValueError
            fields: dict[str, Any] = dict(
                zip(("LocationX", "LocationY", "WidthProportion", "HeightProportion"), map(float, parts[:4]), strict=True)
            )
            if len(parts) == 5:
                fields["ZOrder"] = int(parts[4])
        except ValueError:
            errors[block_id] = "give x y width height z, e.g. 0.7 0.7 0.25 0.25 1"
            continue
        try:
            Region.model_validate({"StreamIndex": index, **fields})
        except ValidationError as exc:
            errors[block_id] = _problems(exc)
            continue
        form.region = (index, fields)
    if background and background != _initial(view, "background"):
        if form.region is not None or edited:
            errors.setdefault("background", "change the background on its own, or together with a preset")
        form.background = background
    if not edited and form.background is None and not errors:
        errors["preset"] = "nothing changed: pick a preset, or edit a region or the background"
    return form, errors


@dataclass
class IngestForm:
    url: str | None = None
    volume: int | None = None
    pause: bool | None = None


_INGEST_FIELDS = {"StreamUrl": "url", "Volume": "volume", "IsPause": "state"}


def read_ingest(view: dict[str, Any]) -> tuple[IngestForm, Errors]:
    values = (view.get("state") or {}).get("values") or {}
    form, errors = IngestForm(), Errors()
    url, volume, state = _value(values, "url"), _value(values, "volume"), _value(values, "state")
    if url != _initial(view, "url"):
        if not url:
            errors["url"] = "the source URL cannot be removed; give a new one"
        form.url = url or None
    if volume != _initial(view, "volume"):
        if not volume.isdigit():
            errors["volume"] = f"must be a whole number, got {volume!r}"
        else:
            form.volume = int(volume)
    if state and state != _initial(view, "state"):
        form.pause = state == "paused"
    if errors:
        return form, errors
    body = {"SdkAppId": 1, "TaskId": "check", "StreamUrl": form.url, "Volume": form.volume, "IsPause": form.pause}
    try:
        UpdateStreamIngest.model_validate(
            {k: v for k, v in body.items() if v is not None}, context={"site": _tagged(view, "site_")}
        )
    except ValidationError as exc:
        for problem in validation_problems(exc):
            name = next((f for f in _INGEST_FIELDS if problem.startswith(f)), "Volume")
            errors.setdefault(_INGEST_FIELDS[name], problem)
    if form.url is None and form.volume is None and form.pause is None and not errors:
        errors["url"] = "nothing changed: edit the URL, the volume or the state"
    return form, errors


# --- proposing ----------------------------------------------------------------------------------------


async def propose_layout(deps: Deps, actor: Actor, alias: str, form: LayoutForm) -> ChangeResult:
    if form.preset is not None:
        return await changes.propose_layout_preset(deps, actor, alias, form.preset, form.refs, form.options)
    if form.region is not None:
        return await changes.propose_region_edit(deps, actor, alias, form.region[0], form.region[1])
    patch = {"Layout": {"CustomLayout": {"Canvas": {"Background": form.background}}}}
    return await changes.propose_patch(deps, actor, alias, patch, summary=f"background {form.background}")


Propose = Callable[[Deps, Actor, str], Awaitable[ChangeResult]]


async def _submitted(
    body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient, propose: Propose
) -> None:
    alias, channel = blocks.parse_editor_metadata(view.get("private_metadata") or "")
    deps, actor = deps_of(context), await actor_of(context, body)
    change = await propose(deps, actor, alias)
    await publish(deps, actor, client, channel or actor.user_id, change)


def register(app: AsyncApp) -> None:
    @app.view(blocks.LAYOUT_EDITOR)
    async def layout_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        form, errors = read_layout(view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        await guarded(
            context, client, body, _submitted(body, view, context, client, lambda d, a, alias: propose_layout(d, a, alias, form))
        )

    @app.view(blocks.INGEST_EDITOR)
    async def ingest_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        form, errors = read_ingest(view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()

        async def propose(deps: Deps, actor: Actor, alias: str) -> ChangeResult:
            return await changes.propose_ingest(deps, actor, alias, stream_url=form.url, volume=form.volume, pause=form.pause)

        await guarded(context, client, body, _submitted(body, view, context, client, propose))
