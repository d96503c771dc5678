"""/rtc on many tasks and scenes: a change command on a selector, its editor, and `/rtc scene …`.

Called by `handlers.commands.run` for the commands it does not know itself; like it, one service call and one
rendering per command. A bulk proposal answers nothing in private when it is stored (its request message in the
channel is the answer); when the selector reached tasks the change does not cover, the person gets the list and
a button that proposes it on the rest (`handlers.bulk_actions`).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import bulk, bulk_members, scenes, selectors
from bot.services.deps import Actor, Deps
from bot.services.errors import ServiceError
from handlers import blocks, bulk_blocks, grammar, show_commands
from handlers.errors import message_for

BULK_COMMANDS = (
    grammar.ProposeBulk,
    grammar.OpenBulkEditor,
    grammar.SceneSave,
    grammar.SceneShow,
    grammar.SceneList,
    grammar.SceneDelete,
    grammar.SceneApply,
)


def handles(cmd: object) -> bool:
    return isinstance(cmd, BULK_COMMANDS)


async def _reply(respond: AsyncRespond, blocks_: list[dict[str, Any]], text: str) -> None:
    await respond(text=text, blocks=blocks_, response_type="ephemeral", replace_original=False)


async def answer(respond: AsyncRespond, result: object, replay: dict[str, Any]) -> None:
    """A preview (tasks not covered) asks for confirmation; anything else was proposed and says so in the channel."""
    if isinstance(result, bulk_members.BulkPreview):
        await _reply(respond, bulk_blocks.preview_reply(result, replay), f"{len(result.refused)} tasks not covered")


async def run(
    cmd: grammar.Command, deps: Deps, actor: Actor, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
) -> None:
    channel = body.get("channel_id")
    match cmd:
        case grammar.ProposeBulk(_, selector, change, text, typed):
            timing = await show_commands.timing_of(deps, client, actor, typed)
            result = await bulk.propose(
                deps,
                actor,
                selectors.parse(selector),
                bulk.same_change(change),
                summary=change.summary,
                channel=channel,
                timing=timing,
            )
            await answer(respond, result, {"c": text})
        case grammar.OpenBulkEditor(verb, selector):
            await open_editor(deps, actor, client, body["trigger_id"], verb, selector, channel)
        case grammar.SceneSave(where, name, words):
            if words or selectors.is_selector(where):
                saved = await scenes.save_change(deps, actor, where, name, words)
            else:
                saved = await scenes.save_from_task(deps, actor, where, name)
            text = f":frame_with_picture: Scene *{blocks.escape(saved.name)}* saved as version {saved.version}."
            await _reply(respond, [*blocks.text_reply(text), *bulk_blocks.scene_list([saved])], text)
        case grammar.SceneShow(name, version):
            scene, summary = await scenes.show(deps, actor, name, version)
            await _reply(respond, bulk_blocks.scene_show(scene, summary), f"scene {scene.name}")
        case grammar.SceneList():
            found = await scenes.list_scenes(deps, actor)
            await _reply(respond, bulk_blocks.scene_list(found), f"{len(found)} scenes")
        case grammar.SceneDelete(name):
            gone = await scenes.delete(deps, actor, name)
            text = f":wastebasket: Scene *{blocks.escape(gone.name)}* deleted; its versions stay in the audit trail."
            await _reply(respond, blocks.text_reply(text), text)
        case grammar.SceneApply(name, where, text, typed):
            timing = await show_commands.timing_of(deps, client, actor, typed)
            await answer(respond, await scenes.apply(deps, actor, name, where, channel=channel, timing=timing), {"c": text})
        case _:
            raise ValueError(f"no handler for {type(cmd).__name__}")


async def open_editor(
    deps: Deps, actor: Actor, client: AsyncWebClient, trigger_id: str, verb: str, selector: str, channel: str | None
) -> None:
    """As `commands.open_editor`, for a selector: the editor of the first task it matches, its submission
    proposed on all of them (the selector travels in the view's metadata where an alias would)."""
    opened = await client.views_open(trigger_id=trigger_id, view=blocks.loading_modal(f"{verb.capitalize()} editor"))
    view_id, view_hash = opened["view"]["id"], opened["view"]["hash"]
    try:
        editor = await bulk.open_editor(deps, actor, selector, verb)
    except ServiceError as exc:
        await client.views_update(view_id=view_id, hash=view_hash, view=blocks.notice_modal("Cannot edit", message_for(exc)[0]))
        raise
    await client.views_update(view_id=view_id, hash=view_hash, view=blocks.editor_modal(editor, selector, channel))


async def propose_from_editor(deps: Deps, actor: Actor, client: AsyncWebClient, selector: str, change: Any, channel: str) -> None:
    """An editor opened on a selector, submitted: a bulk proposal; a preview goes to the person in private."""
    result = await bulk.propose(
        deps, actor, selectors.parse(selector), bulk.same_change(change), summary=change.summary, channel=channel
    )
    if isinstance(result, bulk_members.BulkPreview):
        text = bulk_blocks.editor_preview(result, change.verb)
        await client.chat_postEphemeral(channel=channel, user=actor.user_id, text=text, blocks=blocks.text_reply(text))
