"""/rtc, all of it: parse, acknowledge, then call one service and render its result.

Parsing is pure and fast, so a malformed command is answered in the acknowledgement itself. Everything that
touches the store or a provider happens after the acknowledgement. A redelivered command (same trigger_id,
X-Slack-Retry-Num set) is dropped through an idempotency key.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import audit, change_views, changes, editors, grants, idempotency, locks, tasks, watch
from bot.services.deps import Actor, Deps
from bot.services.errors import ServiceError
from handlers import blocks, bulk_commands, grammar, show_commands
from handlers.context import actor_of, deps_of
from handlers.errors import later, message_for
from handlers.grammar import Command


async def _reply(respond: AsyncRespond, blocks_: list[dict[str, Any]], text: str) -> None:
    await respond(text=text, blocks=blocks_, response_type="ephemeral", replace_original=False)


async def _text(respond: AsyncRespond, text: str) -> None:
    await _reply(respond, blocks.text_reply(text), text)


async def run(
    cmd: Command, deps: Deps, actor: Actor, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
) -> None:
    """One subcommand: one service call, one rendering. Service errors go to the app's error handler."""
    match cmd:
        case grammar.ListTasks(selector, page):
            listed = await tasks.list_statuses(deps, actor, page=page, selector=selector)
            await _reply(respond, blocks.task_page(listed), f"{listed.total} tasks")
            return
        case grammar.Status(alias, as_json):
            status = await tasks.show_task(deps, actor, alias)
            if as_json:
                await _send_json(client, actor, status.task.alias, status.task.configuration)
                text = f":page_facing_up: The configuration of *{status.task.alias}* is in your DM with rtcops, as a JSON file."
                await _text(respond, text)
                return
            await _reply(respond, blocks.task_status(status), f"{status.task.alias}: {status.provider.state}")
            return
        case grammar.Who(alias):
            people = await grants.who_may(deps, actor, alias)
            await _reply(respond, blocks.who_may(alias, people), f"who may act on {alias}")
            return
        case grammar.Policy(alias) if cmd.shows:
            shown = await tasks.show_task(deps, actor, alias)
            await _reply(respond, blocks.policy(shown.task), f"{shown.task.alias} policy")
            return
        case grammar.Policy(alias, approval, glass):
            changed = None
            if approval is not None:
                changed = await changes.set_approvals(deps, actor, alias, approval)
            if glass is not None:
                changed = await changes.set_break_glass(deps, actor, alias, glass)
            assert changed is not None
            await _reply(respond, blocks.policy(changed, changed_by=actor.user_id), f"{changed.alias} policy set")
            return
        case grammar.AddTask(provider, alias, ids, options):
            added = await tasks.add_task(deps, actor, provider, alias, ids, options)
            await _text(respond, blocks.task_added(added))
            return
        case grammar.RemoveTask(alias):
            info = await tasks.remove_task(deps, actor, alias)
            await _text(respond, f":wastebasket: Task *{blocks.escape(info.alias)}* removed; its audit trail stays.")
            return
        case grammar.Grant(subject, role, scope, until):
            g = await grants.grant(deps, actor, subject, role, scope, expires_at=until)
            who = blocks.mention(g.subject_type, g.subject_id)
            expiry = f", until {blocks.when(g.expires_at)}" if g.expires_at else ""
            await _text(respond, f":key: {who} is now *{g.role}* on {blocks.escape(g.scope)}{expiry}.")
            return
        case grammar.Revoke(subject, role, scope):
            n = await grants.revoke(deps, actor, subject, role, scope)
            await _text(respond, f":key: Revoked {n} {role} grant(s) of {blocks.mention(subject.type, subject.id)}.")
            return
        case grammar.ListGrants(subject):
            found = await grants.list_grants(deps, actor, subject)
            await _reply(respond, blocks.grant_list(found), f"{len(found)} grants")
            return
        case grammar.OpenEditor(verb, alias):
            await open_editor(deps, actor, client, body["trigger_id"], verb, alias, body.get("channel_id"))
            return
        case grammar.History(alias):
            found_history = await change_views.history(deps, actor, alias)
            await _reply(respond, blocks.history(found_history), f"{found_history.alias} history")
            return
        case grammar.Unlock(alias):
            await _unlock(deps, actor, client, respond, alias)
            return
        case grammar.Incidents():
            open_incidents = await watch.list_incidents(deps, actor)
            await _reply(respond, blocks.incident_list(open_incidents), f"{len(open_incidents)} open incidents")
            return
        case grammar.Watch(alias, on):
            watching = await watch.set_watching(deps, actor, alias, on)
            await _text(respond, blocks.watch_words(watching))
        case grammar.Audit(alias, tag, since):
            await _send_audit(deps, actor, client, respond, alias, tag, since)
            return
        case grammar.Propose(_, alias, target_change, typed):
            timing = await show_commands.timing_of(deps, client, actor, typed)
            await changes.propose(deps, actor, alias, target_change, channel=body["channel_id"], timing=timing)
        case grammar.Rollback(alias, version, typed):
            timing = await show_commands.timing_of(deps, client, actor, typed)
            await changes.propose(deps, actor, alias, changes.Rollback(version), channel=body["channel_id"], timing=timing)
        case _ if bulk_commands.handles(cmd):
            await bulk_commands.run(cmd, deps, actor, body, client, respond)
        case _ if show_commands.handles(cmd):
            await show_commands.run(cmd, deps, actor, body, client, respond)
        case _:
            raise ValueError(f"no handler for {type(cmd).__name__}")


async def _send_json(client: AsyncWebClient, actor: Actor, alias: str, configuration: dict[str, Any] | None) -> None:
    """The whole configuration as a file in the person's DM with the app: Slack clips long messages."""
    opened = await client.conversations_open(users=actor.user_id)
    channel = str((opened.get("channel") or {}).get("id") or actor.user_id)
    content = json.dumps(configuration or {}, indent=2, ensure_ascii=False, sort_keys=True)
    await client.files_upload_v2(
        channel=channel, content=content, filename=f"{alias}-configuration.json", title=f"{alias}: configuration in force"
    )


async def _send_audit(
    deps: Deps,
    actor: Actor,
    client: AsyncWebClient,
    respond: AsyncRespond,
    alias: str | None,
    tag: str | None,
    since: str | None,
) -> None:
    """The trail as a CSV file, uploaded into the admin's direct messages with the bot: it may name every
    configuration and who holds which role, so it is never posted where others could read it."""
    when = audit.parse_when(since, deps.clock()) if since else None
    data, count = await audit.export_csv(deps, actor, alias=alias, tag=tag, since=when)
    what = f"*{blocks.escape(alias)}*" if alias else f"the tasks tagged *{blocks.escape(tag or '')}*"
    name = alias or f"tag-{tag}"
    dm = (await client.conversations_open(users=actor.user_id))["channel"]["id"]
    await client.files_upload_v2(
        channel=dm,
        content=data,
        filename=f"rtcops-audit-{name}-{deps.clock():%Y%m%d-%H%M%S}.csv",
        title=f"rtcops audit trail: {name}",
        initial_comment=f"The audit trail of {what}{f' since {blocks.escape(since)}' if since else ''}: {count} events.",
    )
    await _text(respond, f":page_facing_up: The audit trail of {what} ({count} events) is in your direct messages with rtcops.")


async def _unlock(deps: Deps, actor: Actor, client: AsyncWebClient, respond: AsyncRespond, alias: str) -> None:
    cancelled = await locks.unlock(deps, actor, alias)
    if cancelled is None:
        await _text(respond, f":unlock: {blocks.escape(alias)} was not locked.")
        return
    if cancelled.bulk_id is not None:
        n = cancelled.tasks
        what = f"bulk change #{cancelled.bulk_id} ({n} task{'' if n == 1 else 's'}, still waiting for its approval) cancelled"
        await _text(respond, f":unlock: {blocks.escape(cancelled.alias)} unlocked: {what}; propose again on the others.")
        return
    await _text(respond, f":unlock: {blocks.escape(cancelled.alias)} unlocked: request #{cancelled.request_id} cancelled.")


async def open_editor(
    deps: Deps, actor: Actor, client: AsyncWebClient, trigger_id: str, verb: str, alias: str, channel: str | None
) -> None:
    """The modal opens at once with a loading view (a trigger_id lives about 3 s) and is filled in with
    views.update, passing the hash so a newer update is never overwritten by an older one."""
    opened = await client.views_open(trigger_id=trigger_id, view=blocks.loading_modal(f"{verb.capitalize()} editor"))
    view_id, view_hash = opened["view"]["id"], opened["view"]["hash"]
    try:
        editor = await editors.open_editor(deps, actor, alias, verb)
    except ServiceError as exc:
        await client.views_update(view_id=view_id, hash=view_hash, view=blocks.notice_modal("Cannot edit", message_for(exc)[0]))
        raise
    await client.views_update(view_id=view_id, hash=view_hash, view=blocks.editor_modal(editor, alias, channel))


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
            text = grammar.help_text()
            await ack(text=text, blocks=blocks.help_reply(text), response_type="ephemeral")
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
