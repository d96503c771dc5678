"""The buttons and the modal of show mode: Approve/Reject on a rundown put up for approval, Next cue on an armed
one, and the rundown editor's submission.

Every click is acknowledged first and checked again by the services. The Next cue button names the cue it showed
(rundown, approval, position), not "whatever is next when the click lands": two operators clicking it together
both ask for cue 4, one fires it, and the other is told "cue 4 is already on air". Registered before
`handlers.actions`, whose catch-all answers buttons nobody knows.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.services import changes, cues, rundowns
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput
from handlers import blocks, show_blocks
from handlers.context import actor_of, deps_of
from handlers.errors import StaleButton, later


def _value(body: dict[str, Any]) -> str:
    actions = body.get("actions")
    value = actions[0].get("value") if isinstance(actions, list) and actions and isinstance(actions[0], dict) else None
    return str(value or "")


def _decision(body: dict[str, Any]) -> tuple[int, str]:
    rundown_id, _, expected = _value(body).partition(":")
    if not rundown_id.isdigit() or len(rundown_id) > 9 or len(expected) != 64:
        raise StaleButton()
    return int(rundown_id), expected


async def _private(body: dict[str, Any], text: str) -> None:
    url = body.get("response_url")
    if url:
        await AsyncWebhookClient(url).send(
            text=text, blocks=blocks.text_reply(text), response_type="ephemeral", replace_original=False
        )


async def on_approve(deps: Deps, actor: Actor, body: dict[str, Any]) -> None:
    rundown_id, expected = _decision(body)
    key = f"rundown-approve:{rundown_id}:{expected}:{actor.team_id}:{actor.user_id}"
    if await changes.already_decided(deps, key):
        return
    await rundowns.approve(deps, actor, rundown_id, expected_hash=expected, idempotency_key=key)


async def on_reject(deps: Deps, actor: Actor, body: dict[str, Any]) -> None:
    rundown_id, _ = _decision(body)
    await rundowns.reject(deps, actor, rundown_id)


async def on_next(deps: Deps, actor: Actor, body: dict[str, Any]) -> None:
    """Fires the cue the button showed; a second click on it is told the cue is on air."""
    parts = _value(body).split(":")
    if len(parts) != 3 or not all(p.isdigit() and len(p) <= 9 for p in parts):
        raise StaleButton()
    rundown_id, epoch, position = (int(p) for p in parts)
    found = await rundowns.info_of(deps, rundown_id)
    if found.team_id != actor.team_id:
        raise StaleButton()
    fired = await cues.fire(deps, actor, found.name, position, epoch=epoch)
    if isinstance(fired, cues.Fired):
        await _private(body, show_blocks.fired_reply(fired.rundown, fired.position, len(fired.changed), len(fired.already)))


async def on_editor(deps: Deps, actor: Actor, meta: dict[str, Any], text: str, client: AsyncWebClient) -> None:
    drafts = [rundowns.parse_cue(line) for line in text.splitlines() if line.strip()]
    await rundowns.replace_cues(deps, actor, str(meta["n"]), drafts, expected_version=int(meta.get("v", 0)) or None)
    await client.chat_postMessage(
        channel=actor.user_id,
        text=f":memo: Rundown {meta['n']} saved: {len(drafts)} cues. Arm it with /rtc rundown arm {meta['n']} HH:MM-HH:MM.",
    )


def _check_cues(text: str) -> str | None:
    """The first line that is not a cue, said for the field; None when every line is one."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rundowns.parse_cue(line)
        except BadInput as exc:
            return f"line {number}: {exc}"[:2000]
    return None


def register(app: AsyncApp) -> None:
    def listener(action_id: str, work: Any) -> None:
        @app.action(action_id)
        async def clicked(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
            await ack()
            later(context, client, body, _run(work, body, context))

    listener(show_blocks.APPROVE, on_approve)
    listener(show_blocks.REJECT, on_reject)
    listener(show_blocks.NEXT, on_next)

    @app.view(show_blocks.EDITOR)
    async def submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        try:
            meta = json.loads(view.get("private_metadata") or "")
            values = (view.get("state") or {}).get("values") or {}
            text = str(((values.get(show_blocks.CUES_BLOCK) or {}).get(show_blocks.CUES_ACTION) or {}).get("value") or "")
            str(meta["n"])
        except (ValueError, KeyError, TypeError):
            await ack(response_action="update", view=blocks.notice_modal("Editor out of date", "Open it again with /rtc."))
            return
        problem = _check_cues(text)
        if problem is not None:
            await ack(response_action="errors", errors={show_blocks.CUES_BLOCK: problem})
            return
        await ack()
        later(context, client, body, _save(body, context, client, meta, text))


async def _save(body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient, meta: dict[str, Any], text: str) -> None:
    await on_editor(deps_of(context), await actor_of(context, body), meta, text, client)


async def _run(work: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await work(deps_of(context), await actor_of(context, body), body)
