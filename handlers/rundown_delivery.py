"""The life of a rundown in Slack: the rundown-lane notices, delivered by `handlers.lifecycle.Deliverer` like
every notice (one lane, in order; a failure delays and never loses), in these words.

The rundown message is posted when the rundown is put up for approval, pinned once it is armed, and redrawn from
the store whenever anything happens to it; the next cue's picture is uploaded into its thread and shown in it.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import NoticeKind, RundownState
from bot.services import bulk_members, grants, rundowns
from bot.services.deps import Actor
from bot.services.outbox import Pending
from bot.services.rundowns import RundownInfo
from handlers import blocks, show_blocks
from handlers.deliverer import Deliverer

log = logging.getLogger("rtcops.delivery")


class NoRundownMessage(Exception):
    """The rundown message was never posted (the rundown was armed from the CLI): nothing to reply under."""


def _thread(found: RundownInfo) -> tuple[str, str]:
    if found.channel_id is None or found.message_ts is None:
        raise NoRundownMessage()
    return found.channel_id, found.message_ts


async def send(deliverer: Deliverer, notice: Pending) -> None:
    deps, client = deliverer.deps, deliverer.client
    rundown_id = notice.payload.get("rundown")
    if not isinstance(rundown_id, int):
        raise ValueError(f"notice {notice.id} names no rundown")
    found = await rundowns.info_of(deps, rundown_id)
    kind, payload = notice.kind, notice.payload
    if kind == NoticeKind.RUNDOWN_POST:
        if payload.get("epoch") != found.epoch or found.state != RundownState.PENDING:
            return  # put up again, or decided, before this was said: the newer notice says it
        if found.channel_id is None:
            raise NoRundownMessage()
        ts = await deliverer.find(notice, found.channel_id, None) if notice.uncertain else None
        if ts is None:
            posted = await deliverer.post(
                notice, channel=found.channel_id, text=show_blocks.fallback(found), blocks_=show_blocks.rundown_message(found)
            )
            ts = str(posted["ts"])
        link = (await client.chat_getPermalink(channel=found.channel_id, message_ts=ts)).get("permalink")
        await rundowns.attach_message(deps, rundown_id, found.epoch, channel_id=found.channel_id, message_ts=ts, link=link)
        found = await rundowns.info_of(deps, rundown_id)
        details = show_blocks.request_details(found, await rundowns.cue_changes(deps, rundown_id))
        await deliverer.post(notice, channel=found.channel_id or "", thread_ts=ts, text="What each cue changes", blocks_=details)
        return
    channel, ts = _thread(found)
    if kind == NoticeKind.RUNDOWN_DECIDED:
        what = str(payload.get("what", ""))
        text = show_blocks.decided_text(what, str(payload.get("by", "")), str(payload.get("reason", "")))
        await deliverer.post(notice, channel=channel, thread_ts=ts, text=text, blocks_=blocks.text_reply(text))
        if what == "armed":
            await _pin(client, channel, ts)
            found = await _picture(deliverer, found)
        elif what in ("disarmed", "deleted"):
            await _unpin(client, channel, ts)
    elif kind == NoticeKind.RUNDOWN_CUE:
        position = int(payload.get("position", 0))
        cue = found.cue(position)
        bulk_id = payload.get("bulk")
        link = None
        if isinstance(bulk_id, int):
            link = (await bulk_members.progress_of(deps, bulk_id)).link
        text = show_blocks.cue_fired_text(
            position, cue.label if cue else "", str(payload.get("by", "")), list(payload.get("overwritten") or []), link
        )
        await deliverer.post(notice, channel=channel, thread_ts=ts, text=text, blocks_=blocks.text_reply(text))
        found = await _picture(deliverer, found)
    elif kind == NoticeKind.RUNDOWN_REMINDER:
        if found.state != RundownState.PENDING:
            return
        approvers = await _approvers(deliverer, found)
        text = show_blocks.reminder(approvers, found)
        await deliverer.post(notice, channel=channel, thread_ts=ts, text=text, blocks_=blocks.text_reply(text))
    elif kind == NoticeKind.SCHEDULE_SETTLED:
        text = blocks.schedule_settled(str(payload.get("what", "")), str(payload.get("detail", "")))
        await deliverer.post(notice, channel=channel, thread_ts=ts, text=text, blocks_=blocks.text_reply(text))
    await client.chat_update(channel=channel, ts=ts, text=show_blocks.fallback(found), blocks=show_blocks.rundown_message(found))


async def _picture(deliverer: Deliverer, found: RundownInfo) -> RundownInfo:
    """The next cue's picture, uploaded into the thread once, for the rundown message to show."""
    upcoming = found.next if found.state == RundownState.ARMED else None
    if upcoming is None or (found.preview is not None and found.preview[0] == upcoming):
        return found
    png = await rundowns.picture(deliverer.deps, found.rundown_id, upcoming)
    if png is None:
        return found
    channel, ts = _thread(found)
    cue = found.cue(upcoming)
    uploaded = await deliverer.client.files_upload_v2(
        channel=channel,
        thread_ts=ts,
        content=png,
        filename=f"rundown-{found.name}-cue-{upcoming}.png",
        title=f"Next: cue {upcoming}" + (f" · {cue.label}" if cue else ""),
    )
    files = uploaded.get("files") or ([uploaded["file"]] if uploaded.get("file") else [])
    if files and files[0].get("id"):
        await rundowns.set_preview(deliverer.deps, found.rundown_id, found.epoch, upcoming, str(files[0]["id"]))
        return await rundowns.info_of(deliverer.deps, found.rundown_id)
    return found


async def _pin(client: AsyncWebClient, channel: str, ts: str) -> None:
    try:
        await client.pins_add(channel=channel, timestamp=ts)
    except SlackApiError as exc:
        if exc.response.get("error") != "already_pinned":
            raise


async def _unpin(client: AsyncWebClient, channel: str, ts: str) -> None:
    try:
        await client.pins_remove(channel=channel, timestamp=ts)
    except SlackApiError as exc:
        if exc.response.get("error") not in ("no_pin", "not_pinned"):
            raise


async def _approvers(deliverer: Deliverer, found: RundownInfo) -> list[str]:
    """Approvers of the first task of each cue, intersected: who can approve all of it, in a few look-ups."""
    common: list[Any] | None = None
    seen: set[str] = set()
    for cue in found.cues:
        for alias in cue.tasks[:1]:
            if alias in seen or len(seen) >= 5:
                continue
            seen.add(alias)
            here = await grants.approvers_for(deliverer.deps, Actor(found.team_id, found.requested_by or ""), alias)
            common = here if common is None else [s for s in common if s in here]
    return [blocks.mention(s.type, s.id) for s in (common or [])][:20]
