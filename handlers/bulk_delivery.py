"""The life of a bulk change in Slack: the bulk-lane notices, delivered by `handlers.lifecycle.Deliverer` like
every notice (one lane, in order, a failure delays and never loses), in these words.

The request message is also the live progress message. Each BULK_PROGRESS notice names the requests a verdict
(or a batch of accepted answers) settled; they are due at the next whole second, so one delivery finds a
second's worth: it posts their outcomes as one thread message, redraws the bar once, and marks exactly the
progress notices it covered delivered. Which those are is fixed before the outcomes are read, and kept with the
head notice, so a verdict committed meanwhile is left for the next delivery (never marked delivered unseen), and
a retry says exactly what a first attempt that may have reached Slack said; that post is looked for first by the
notice id it carries in its metadata, as every post is, so it is said once.
"""

from __future__ import annotations

from typing import Any

from bot.domain import BulkState, NoticeKind
from bot.services import bulk_lifecycle, bulk_members, grants, outbox
from bot.services.deps import Actor, Deps
from bot.services.outbox import Pending
from handlers import blocks, bulk_blocks
from handlers.deliverer import Deliverer

KINDS = frozenset(
    {
        NoticeKind.BULK_POST,
        NoticeKind.BULK_PREVIEW,
        NoticeKind.BULK_WAITING,
        NoticeKind.BULK_DECIDED,
        NoticeKind.BULK_PROGRESS,
        NoticeKind.BULK_NOTIFY,
        NoticeKind.BULK_REMINDER,
        NoticeKind.BULK_BREAK_GLASS,
        NoticeKind.BULK_UNDELIVERABLE,
    }
)
RANGE_EVENT = "rtcops_notice"


class NoBulkMessage(Exception):
    """The bulk's request message was never posted: its thread notices have nowhere to go."""


def _bulk_id(notice: Pending) -> int:
    value = notice.payload.get("bulk")
    if not isinstance(value, int):
        raise ValueError(f"notice {notice.id} names no bulk")
    return value


def _thread(found: bulk_members.BulkResult) -> tuple[str, str]:
    if found.channel_id is None or found.message_ts is None:
        raise NoBulkMessage()
    return found.channel_id, found.message_ts


async def send(deliverer: Deliverer, notice: Pending) -> None:
    """One bulk-lane notice: the calls it makes are those of its kind below."""
    deps = deliverer.deps
    bulk_id = _bulk_id(notice)
    if notice.kind == NoticeKind.BULK_PROGRESS:
        await _progress(deliverer, notice, bulk_id)
        return
    full = notice.kind in (NoticeKind.BULK_POST, NoticeKind.BULK_PREVIEW, NoticeKind.BULK_WAITING, NoticeKind.BULK_REMINDER)
    found = await (bulk_members.result_of(deps, bulk_id) if full else bulk_members.progress_of(deps, bulk_id))
    client = deliverer.client
    if notice.kind == NoticeKind.BULK_POST:
        if found.channel_id is None:
            raise NoBulkMessage()
        ts = await deliverer.find(notice, found.channel_id, None) if notice.uncertain else None
        if ts is None:
            posted = await deliverer.post(
                notice, channel=found.channel_id, text=bulk_blocks.fallback(found), blocks_=bulk_blocks.request_message(found)
            )
            ts = str(posted["ts"])
        link = (await client.chat_getPermalink(channel=found.channel_id, message_ts=ts)).get("permalink")
        await bulk_lifecycle.attach_message(deps, bulk_id, channel_id=found.channel_id, message_ts=ts, permalink=link)
    elif notice.kind == NoticeKind.BULK_PREVIEW:
        channel, ts = _thread(found)
        picture, aliases = await bulk_members.picture(deps, bulk_id, int(notice.payload.get("picture", 0)))
        if picture is not None:
            await client.files_upload_v2(
                channel=channel,
                thread_ts=ts,
                content=picture,
                filename=f"bulk-{bulk_id}-{aliases[0]}.png",
                title=bulk_blocks.picture_title(aliases),
            )
    elif notice.kind == NoticeKind.BULK_WAITING:
        channel, ts = _thread(found)
        requester = Actor(found.team_id, found.requester)
        approvers = await _approvers(deliverer, requester, found)
        text = bulk_blocks.waiting(approvers, found)
        await deliverer.post(notice, channel=channel, thread_ts=ts, text=text, blocks_=blocks.text_reply(text))
    elif notice.kind == NoticeKind.BULK_DECIDED:
        channel, ts = _thread(found)
        payload = notice.payload
        text = bulk_blocks.decided_text(
            str(payload.get("what", "")), str(payload.get("by", "")), str(payload.get("reason", "")), found
        )
        await deliverer.post(notice, channel=channel, thread_ts=ts, text=text, blocks_=blocks.text_reply(text))
        await _redraw(deliverer, found)
    elif notice.kind == NoticeKind.BULK_REMINDER:
        if found.state != BulkState.PENDING:
            return
        channel, ts = _thread(found)
        approvers = await _approvers(deliverer, Actor(found.team_id, found.requester), found)
        text = blocks.reminder(approvers, found.expires_at)
        await deliverer.post(notice, channel=channel, thread_ts=ts, text=text, blocks_=blocks.text_reply(text))
    elif notice.kind == NoticeKind.SCHEDULE_SETTLED:
        channel, ts = _thread(found)
        text = blocks.schedule_settled(str(notice.payload.get("what", "")), str(notice.payload.get("detail", "")))
        await deliverer.post(notice, channel=channel, thread_ts=ts, text=text, blocks_=blocks.text_reply(text))
    elif notice.kind == NoticeKind.BULK_BREAK_GLASS:
        line = bulk_blocks.break_glass_line(found, found.link)
        for channel in await bulk_members.notify_targets(deps, bulk_id):
            await deliverer.post(notice, channel=channel, text=line, blocks_=blocks.text_reply(line), unfurl_links=False)
    elif notice.kind == NoticeKind.BULK_UNDELIVERABLE:
        text = bulk_blocks.undeliverable(found, str(notice.payload.get("channel", "")), str(notice.payload.get("error", "")))
        await deliverer.post(notice, channel=found.requester, text=text, blocks_=blocks.text_reply(text))
    elif notice.kind == NoticeKind.BULK_NOTIFY:
        for channel in await bulk_members.notify_targets(deps, bulk_id):
            line = bulk_blocks.notify_line(found, found.link)
            await deliverer.post(notice, channel=channel, text=line, blocks_=blocks.text_reply(line), unfurl_links=False)


async def undeliverable(deps: Deps, notice: Pending, error: str) -> None:
    """The request message was refused for good (a channel the bot is not in): nobody there can approve it."""
    await bulk_lifecycle.undeliverable(deps, _bulk_id(notice), error=error)


async def _approvers(deliverer: Deliverer, requester: Actor, found: bulk_members.BulkResult) -> list[str]:
    """Who may approve every task of the bulk: the approvers of each distinct task kind (provider and tags) it
    spans, intersected; a handful of look-ups however many tasks."""
    seen: set[str] = set()
    common: list[Any] | None = None
    for member in found.members:
        if member.provider in seen or len(seen) >= 5:
            continue
        seen.add(member.provider)
        found_here = await grants.approvers_for(deliverer.deps, requester, member.alias)
        common = found_here if common is None else [s for s in common if s in found_here]
    return [blocks.mention(s.type, s.id) for s in (common or [])][:20]


async def _redraw(deliverer: Deliverer, found: bulk_members.BulkResult) -> None:
    channel, ts = _thread(found)
    await deliverer.client.chat_update(
        channel=channel, ts=ts, text=bulk_blocks.fallback(found), blocks=bulk_blocks.request_message(found)
    )


async def _progress(deliverer: Deliverer, notice: Pending, bulk_id: int) -> None:
    """The outcomes of the due progress notices of the lane (the range the first attempt fixed), as one thread
    message, then the bar redrawn once; those notices are then delivered with the head."""
    deps = deliverer.deps
    covered = await outbox.covered_with(deps, notice, ids_limit=bulk_blocks.OUTCOME_LINES)
    ids = {int(i) for n in [notice, *covered] for i in n.payload.get("ids", []) if isinstance(i, int)}
    found = await bulk_members.progress_of(deps, bulk_id)
    channel, ts = _thread(found)
    members = [m for m in found.members if m.request_id in ids]
    if members:
        text = f"{len(members)} task outcomes"
        await deliverer.post(notice, channel=channel, thread_ts=ts, text=text, blocks_=bulk_blocks.outcomes(members))
    if not await outbox.more_due(deps, notice, covered):  # else the next delivery, at once, redraws it
        await _redraw(deliverer, found)
    await outbox.delivered_with(deps, covered)
    if found.done:
        await bulk_lifecycle.finish_if_done(deps, bulk_id)
