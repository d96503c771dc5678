"""/rtc for the show: rundowns, cues and schedules, and the `at=` / break-glass part of any change command.

Called by `handlers.commands.run` for the commands it does not know itself; one service call and one rendering
per command. A time typed as `at=20:00` is read in the person's Slack time zone (users.info), after the
acknowledgement, and shown back in that zone and in UTC.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import cues, rundowns, schedules, when
from bot.services.deps import Actor, Deps
from bot.services.errors import ServiceError
from bot.services.when import Timing
from handlers import blocks, grammar, show_blocks
from handlers.errors import message_for

SHOW_COMMANDS = (
    grammar.RundownCreate,
    grammar.RundownAdd,
    grammar.RundownRemove,
    grammar.RundownEdit,
    grammar.RundownShow,
    grammar.RundownList,
    grammar.RundownArm,
    grammar.RundownDelete,
    grammar.FireCue,
    grammar.ListSchedules,
    grammar.CancelSchedule,
)


def handles(cmd: object) -> bool:
    return isinstance(cmd, SHOW_COMMANDS)


async def tz_of(client: AsyncWebClient, user_id: str) -> str:
    """The person's IANA time zone as Slack has it; UTC when Slack will not say."""
    try:
        reply = await client.users_info(user=user_id)
    except SlackApiError:
        return "UTC"
    return str((reply.get("user") or {}).get("tz") or "UTC")


async def timing_of(deps: Deps, client: AsyncWebClient, actor: Actor, typed: grammar.When) -> Timing:
    if typed.reason is not None:
        return Timing(break_glass=typed.reason)
    if typed.at is None:
        return Timing()
    tz = await tz_of(client, actor.user_id)
    return Timing(at=when.at(typed.at, tz, deps.clock()), tz=tz)


async def _reply(respond: AsyncRespond, blocks_: list[dict[str, Any]], text: str) -> None:
    await respond(text=text, blocks=blocks_, response_type="ephemeral", replace_original=False)


async def _text(respond: AsyncRespond, text: str) -> None:
    await _reply(respond, blocks.text_reply(text), text)


async def run(
    cmd: grammar.Command, deps: Deps, actor: Actor, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
) -> None:
    channel = body.get("channel_id")
    match cmd:
        case grammar.RundownCreate(name):
            made = await rundowns.create(deps, actor, name)
            await _text(
                respond, f":memo: Rundown *{blocks.escape(made.name)}* created: add cues with `/rtc rundown add {made.name} …`."
            )
        case grammar.RundownAdd(name, text):
            edited = await rundowns.add_cue(deps, actor, name, text)
            await _reply(respond, show_blocks.rundown_show(edited), f"rundown {edited.name}: {len(edited.cues)} cues")
        case grammar.RundownRemove(name, position):
            edited = await rundowns.remove_cue(deps, actor, name, position)
            await _reply(respond, show_blocks.rundown_show(edited), f"rundown {edited.name}: {len(edited.cues)} cues")
        case grammar.RundownEdit(name):
            await open_editor(deps, actor, client, body["trigger_id"], name)
        case grammar.RundownShow(name):
            found = await rundowns.show(deps, actor, name)
            await _reply(respond, show_blocks.rundown_show(found), f"rundown {found.name}")
        case grammar.RundownList():
            listed = await rundowns.list_rundowns(deps, actor)
            await _reply(respond, show_blocks.rundown_list(listed), f"{len(listed)} rundowns")
        case grammar.RundownArm(name, window_text):
            tz = await tz_of(client, actor.user_id)
            armed = await rundowns.arm(deps, actor, name, window_text, tz=tz, channel=channel)
            await _text(
                respond,
                f":hourglass_flowing_sand: Rundown *{blocks.escape(armed.name)}* is up for approval, to be armed for "
                f"{blocks.escape(armed.window_text)}.",
            )
        case grammar.RundownDelete(name):
            gone = await rundowns.delete(deps, actor, name)
            await _text(respond, f":wastebasket: Rundown *{blocks.escape(gone.name)}* deleted; its audit trail stays.")
        case grammar.FireCue(name, which, at):
            timing = await timing_of(deps, client, actor, grammar.When(at=at))
            done = await cues.fire(deps, actor, name, which, timing=timing)
            if isinstance(done, cues.Fired):
                await _text(respond, show_blocks.fired_reply(done.rundown, done.position, len(done.changed), len(done.already)))
            else:
                await _text(respond, show_blocks.scheduled_reply(done.id, done.summary, when.show(done.fire_at, done.tz)))
        case grammar.ListSchedules():
            await _reply(respond, show_blocks.schedule_list(await schedules.list_waiting(deps, actor)), "schedules")
        case grammar.CancelSchedule(schedule_id):
            gone_schedule = await schedules.cancel(deps, actor, schedule_id)
            await _text(
                respond,
                f":heavy_multiplication_x: Schedule #{gone_schedule.schedule_id} cancelled: "
                f"{blocks.escape(gone_schedule.summary)}.",
            )
        case _:
            raise ValueError(f"no handler for {type(cmd).__name__}")


async def open_editor(deps: Deps, actor: Actor, client: AsyncWebClient, trigger_id: str, name: str) -> None:
    opened = await client.views_open(trigger_id=trigger_id, view=blocks.loading_modal("Rundown"))
    view_id, view_hash = opened["view"]["id"], opened["view"]["hash"]
    try:
        found = await rundowns.show(deps, actor, name)
    except ServiceError as exc:
        await client.views_update(view_id=view_id, hash=view_hash, view=blocks.notice_modal("Cannot edit", message_for(exc)[0]))
        raise
    await client.views_update(view_id=view_id, hash=view_hash, view=show_blocks.editor_modal(found))
