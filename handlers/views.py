"""The layout and ingest editors.

Opening: the modal opens at once with a loading view (a trigger_id lives about 3 s), and is filled in with
views.update, passing the hash so a newer update is never overwritten by an older one.

Submitting: the form is read here and checked by `bot.services.forms` (the provider models and the layout
presets, pure and fast), so mistakes come back in the acknowledgement as field errors (response_action:
errors) and nothing is stored. Only a valid form is acknowledged and becomes a proposal through the services.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import editors, forms
from bot.services.deps import Actor, Deps
from bot.services.errors import ServiceError
from bot.services.results import ChangeResult
from handlers import actor_of, blocks, deps_of, grammar
from handlers.actions import publish
from handlers.errors import later, message_for

Errors = forms.Errors


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
        if layout:
            view = _layout_view(await editors.open_layout_editor(deps, actor, cmd.alias), channel)
        else:
            view = _ingest_view(await editors.open_ingest_editor(deps, actor, cmd.alias), channel)
    except ServiceError as exc:
        await client.views_update(view_id=view_id, hash=view_hash, view=blocks.notice_modal("Cannot edit", message_for(exc)[0]))
        raise
    await client.views_update(view_id=view_id, hash=view_hash, view=view)


def _layout_view(editor: forms.LayoutEditor, channel: str | None) -> dict[str, Any]:
    hint = "name=value, space separated. " + "; ".join(f"{p.name}: {', '.join(p.options)}" for p in editor.presets)
    return blocks.layout_modal(
        editor.alias,
        channel,
        editor.canvas,
        [(p.name, p.summary) for p in editor.presets],
        editor.streams,
        editor.regions,
        editor.background,
        hint,
    )


def _ingest_view(editor: forms.IngestEditor, channel: str | None) -> dict[str, Any]:
    return blocks.ingest_modal(
        editor.alias, channel, editor.site, editor.url, editor.volume, editor.paused, editor.volume_max
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


def _canvas(view: dict[str, Any]) -> tuple[int, int] | None:
    width, _, height = (_tagged(view, "canvas_") or "").partition("x")
    return (int(width), int(height)) if width.isdigit() and height.isdigit() else None


def read_layout(view: dict[str, Any]) -> tuple[forms.LayoutProposal, Errors]:
    values = (view.get("state") or {}).get("values") or {}
    preset, background = _value(values, "preset"), _value(values, "background")
    changed = bool(background) and background != _initial(view, "background")
    if preset != blocks.KEEP_REGIONS:
        return forms.validate_layout_form(
            preset, _value(values, "streams"), _value(values, "options"), background or None, _canvas(view),
            background_changed=changed,
        )  # fmt: skip
    edited = [
        (int(b.removeprefix("region_")), _value(values, b))
        for b in values
        if b.startswith("region_") and b.removeprefix("region_").isdigit() and _value(values, b) != _initial(view, b)
    ]
    return forms.validate_region_edit(edited, background if changed else None)


def read_ingest(view: dict[str, Any]) -> tuple[forms.IngestProposal, Errors]:
    values = (view.get("state") or {}).get("values") or {}
    url, volume, state = _value(values, "url"), _value(values, "volume"), _value(values, "state")
    return forms.validate_ingest_form(
        url if url != _initial(view, "url") else None,
        volume if volume != _initial(view, "volume") else None,
        (state == "paused") if state and state != _initial(view, "state") else None,
        _tagged(view, "site_"),
    )


# --- proposing ----------------------------------------------------------------------------------------


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
        work = _submitted(body, view, context, client, lambda d, a, alias: editors.propose_layout(d, a, alias, form))
        later(context, client, body, work)

    @app.view(blocks.INGEST_EDITOR)
    async def ingest_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        form, errors = read_ingest(view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        work = _submitted(body, view, context, client, lambda d, a, alias: editors.propose_ingest(d, a, alias, form))
        later(context, client, body, work)
