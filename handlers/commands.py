"""/rtc: parse, acknowledge, then call one service and render its result.

Parsing is pure and fast, so a malformed command is answered in the acknowledgement itself. Everything
that touches the store or a provider happens after the acknowledgement. A redelivered command (same
trigger_id, X-Slack-Retry-Num set) is dropped through an idempotency key.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import grants, idempotency, tasks
from bot.services.deps import Actor, Deps
from handlers import actions, actor_of, blocks, deps_of, grammar, views
from handlers.errors import later
from handlers.grammar import Command


async def _reply(respond: AsyncRespond, blocks_: list[dict[str, Any]], text: str) -> None:
    await respond(text=text, blocks=blocks_, response_type="ephemeral", replace_original=False)


async def run(
    cmd: Command, deps: Deps, actor: Actor, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
) -> None:
    """One subcommand: one service call, one rendering. Service errors go to the app's error handler."""
    match cmd:
        case grammar.ListTasks():
            statuses = await tasks.list_statuses(deps, actor)
            await _reply(
                respond,
                blocks.task_list([s.task for s in statuses], {s.task.alias: s.provider.state for s in statuses}),
                f"{len(statuses)} tasks",
            )
        case grammar.Status(alias):
            status = await tasks.show_task(deps, actor, alias)
            await _reply(respond, blocks.task_status(status), f"{alias}: {status.provider.state}")
        case grammar.AddVolcengineTask() | grammar.AddTencentTask():
            added = await tasks.add_task(deps, actor, _task_spec(cmd))
            note = {
                "provider": "configuration read from the provider",
                "given": "configuration as given",
                "none": "no baseline yet",
            }
            text = (
                f":white_check_mark: Task *{added.task.alias}* ({added.task.provider}) registered, version {added.task.version}; "
                f"{note.get(added.baseline_source, added.baseline_source)}."
            )
            if added.provider is not None and added.provider.error:
                text += f"\n:warning: provider: {added.provider.error}"
            for warning in added.warnings:
                text += f"\n:warning: {warning}"
            await _reply(respond, blocks.text_reply(text), text)
        case grammar.RemoveTask(alias):
            info = await tasks.remove_task(deps, actor, alias)
            text = f":wastebasket: Task *{info.alias}* removed; its audit trail stays."
            await _reply(respond, blocks.text_reply(text), text)
        case grammar.Grant(subject, role, scope):
            g = await grants.grant(deps, actor, subject, role, scope)
            text = f":key: {blocks.mention(g.subject_type, g.subject_id)} is now *{g.role}* on {g.scope}."
            await _reply(respond, blocks.text_reply(text), text)
        case grammar.Revoke(subject, role, scope):
            n = await grants.revoke(deps, actor, subject, role, scope)
            text = f":key: Revoked {n} {role} grant(s) of {blocks.mention(subject.type, subject.id)}."
            await _reply(respond, blocks.text_reply(text), text)
        case grammar.ListGrants(subject):
            found = await grants.list_grants(deps, actor, subject)
            await _reply(respond, blocks.grant_list(found), f"{len(found)} grants")
        case grammar.OpenLayoutEditor(alias) | grammar.OpenIngestEditor(alias):
            await views.open_editor(deps, actor, client, body["trigger_id"], cmd, body.get("channel_id"))
        case _:
            await actions.run_change_command(cmd, deps, actor, body, client, respond)


def _task_spec(cmd: grammar.AddVolcengineTask | grammar.AddTencentTask) -> tasks.VolcengineTask | tasks.TencentTask:
    if isinstance(cmd, grammar.AddVolcengineTask):
        return tasks.VolcengineTask(
            alias=cmd.alias,
            app_id=cmd.app_id,
            room_id=cmd.room_id,
            task_id=cmd.task_id,
            canvas=cmd.canvas,
            tags=cmd.tags,
            notify_channel=cmd.channel,
        )
    return tasks.TencentTask(
        alias=cmd.alias,
        sdk_app_id=cmd.sdk_app_id,
        task_id=cmd.task_id,
        region=cmd.region,
        site=cmd.site,
        tags=cmd.tags,
        notify_channel=cmd.channel,
    )


def register(app: AsyncApp) -> None:
    @app.command("/rtc")
    async def on_rtc(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        try:
            cmd = grammar.parse(body.get("text") or "")
        except grammar.UsageError as exc:
            await ack(
                text=f"{exc.problem}\nUsage:\n{exc.usage}",
                blocks=blocks.usage_reply(exc.problem, exc.usage),
                response_type="ephemeral",
            )
            return
        if isinstance(cmd, grammar.Help):
            await ack(text=grammar.HELP, blocks=blocks.help_reply(grammar.HELP), response_type="ephemeral")
            return
        await ack()
        later(context, client, body, _after_ack(cmd, body, context, client, respond))


async def _after_ack(
    cmd: Command, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient, respond: AsyncRespond
) -> None:
    deps = deps_of(context)
    if not await idempotency.claim(deps, f"cmd:{body.get('team_id')}:{body.get('trigger_id')}"):
        return
    await run(cmd, deps, await actor_of(context, body), body, client, respond)
