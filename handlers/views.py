"""Editor submissions, for every target's editor.

The form is read here and checked by the services (the task's target, pure and fast), so mistakes come back
in the acknowledgement as field errors (response_action: errors) and nothing is stored. Only a valid form is
acknowledged and becomes a proposal.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import changes, editors, selectors
from bot.services.catalogue import TargetChange
from handlers import blocks, bulk_commands
from handlers.context import actor_of, deps_of
from handlers.errors import later

OUT_OF_DATE = "This editor is out of date. Close it and open it again with /rtc."


def _value(state: dict[str, Any]) -> str:
    if "selected_option" in state:
        return str((state.get("selected_option") or {}).get("value") or "")
    return str(state.get("value") or "").strip()


def submitted_values(view: dict[str, Any]) -> dict[str, str]:
    values = (view.get("state") or {}).get("values") or {}
    return {block_id: _value(actions.get("value") or {}) for block_id, actions in values.items()}


def initial_values(view: dict[str, Any]) -> dict[str, str]:
    """What each field showed when the editor opened: a field left as it was is no change."""
    found: dict[str, str] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        if block.get("type") != "input" or not block.get("block_id"):
            continue
        if "initial_option" in element:
            found[block["block_id"]] = str(element["initial_option"].get("value") or "")
        else:
            found[block["block_id"]] = str(element.get("initial_value") or "").strip()
    return found


async def _propose(
    body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient, meta: blocks.EditorMeta, change: TargetChange
) -> None:
    deps, actor = deps_of(context), await actor_of(context, body)
    if selectors.is_selector(meta.alias):  # an editor opened on a selector
        await bulk_commands.propose_from_editor(deps, actor, client, meta.alias, change, meta.channel or actor.user_id)
        return
    await changes.propose(deps, actor, meta.alias, change, channel=meta.channel or actor.user_id)


def register(app: AsyncApp) -> None:
    @app.view(blocks.EDITOR)
    async def editor_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        meta = blocks.parse_editor_metadata(view.get("private_metadata") or "")
        if meta is None:
            await ack(response_action="update", view=blocks.notice_modal("Editor out of date", OUT_OF_DATE))
            return
        change, errors = editors.read_editor(meta.verb, submitted_values(view), initial_values(view), meta.context)
        fields = {k: v for k, v in errors.items() if k in initial_values(view)}
        if errors and not fields:
            await ack(response_action="update", view=blocks.notice_modal("Cannot propose", "; ".join(errors.values())))
            return
        if fields:
            await ack(response_action="errors", errors=fields)
            return
        if change is None:
            await ack(response_action="update", view=blocks.notice_modal("Cannot propose", "Nothing changed."))
            return
        await ack()
        later(context, client, body, _propose(body, context, client, meta, change))
