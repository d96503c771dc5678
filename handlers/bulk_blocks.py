"""Block Kit for bulk changes and scenes: the bulk's request message (which is also its live progress message),
its thread lines, the confirmation of a selector that reaches tasks the change does not cover, and scene
listings. Every user or provider text goes through `blocks.escape`; sizes through `blocks.fit_message`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    HeaderBlock,
    PlainTextObject,
)

from bot.domain import BulkPurpose, BulkState, ChangeState
from bot.services.bulk_members import BulkPreview, BulkResult, Member
from bot.services.scenes import SceneInfo
from handlers.blocks import (
    STATE_EMOJI,
    TEXT_CHARS,
    _context,
    _section,
    clip,
    escape,
    fit_message,
    lines_text,
    scheduled_line,
    when,
    who,
)

APPROVE = "rtc_bulk_approve"
REJECT = "rtc_bulk_reject"
CONFIRM = "rtc_bulk_confirm"
RETRY = "rtc_bulk_retry"
ROLLBACK = "rtc_bulk_rollback"
BAR_WIDTH = 20
OUTCOME_LINES = 80
"""Task outcomes in one thread message: about 80 characters each, well inside a message's 12k."""

_PURPOSE = {
    BulkPurpose.CHANGE: "change",
    BulkPurpose.SCENE: "scene",
    BulkPurpose.RETRY: "retry of the failed tasks",
    BulkPurpose.ROLLBACK: "rollback of the applied tasks",
    BulkPurpose.CUE: "cue",
}
_BULK_STATE = {
    BulkState.PENDING: ":hourglass_flowing_sand: waiting for approval",
    BulkState.APPROVED: ":white_check_mark: approved",
    BulkState.REJECTED: ":no_entry: rejected",
    BulkState.CANCELLED: ":heavy_multiplication_x: cancelled",
    BulkState.EXPIRED: ":alarm_clock: expired",
    BulkState.STALE: ":warning: stale",
}


def title(bulk: BulkResult) -> str:
    return clip(f"Bulk #{bulk.bulk_id}: {_PURPOSE[bulk.purpose]} on {len(bulk.members)} tasks · {bulk.selector}", 150)


def fallback(bulk: BulkResult) -> str:
    return clip(f"{title(bulk)} by {who(bulk.requester)}: {progress_line(bulk)}", 300)


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """A text progress bar: filled for the tasks that have their verdict."""
    filled = round(width * done / total) if total else width
    return "█" * filled + "░" * (width - filled)


def progress_line(bulk: BulkResult) -> str:
    """'12/17 applied · 1 failed · 4 pending', or the decision while nothing has been sent."""
    if bulk.state != BulkState.APPROVED:
        return _BULK_STATE[bulk.state]
    total = len(bulk.members)
    return f"{bulk.applied}/{total} applied · {bulk.failed} failed · {bulk.pending} pending"


def _progress(bulk: BulkResult) -> str:
    total = len(bulk.members)
    done = total - bulk.pending
    if bulk.state != BulkState.APPROVED:
        return _BULK_STATE[bulk.state]
    mark = (
        ":large_green_circle:"
        if bulk.done and not bulk.failed
        else (":red_circle:" if bulk.done else ":arrows_counterclockwise:")
    )
    return f"{mark} `{bar(done, total)}` {progress_line(bulk)}"


def _diff_groups(members: Sequence[Member]) -> list[str]:
    """Each task's diff, tasks with the same diff shown together: 17 tasks switching to one layout read as one."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for m in members:
        groups.setdefault(tuple(m.diff_lines), []).append(m.alias)
    out: list[str] = []
    for lines, aliases in groups.items():
        names = ", ".join(escape(a) for a in aliases[:12]) + (f" and {len(aliases) - 12} more" if len(aliases) > 12 else "")
        head = f"*{names}*" + (f" ({len(aliases)} tasks)" if len(aliases) > 1 else "")
        out.append(head + "\n" + lines_text([escape(line) for line in lines] or ["(no difference shown)"], limit=1200))
    return out


def request_message(bulk: BulkResult) -> list[dict[str, Any]]:
    """The bulk's parent message: who, what, each task's diff, what is not covered and why, the decision, then
    the live progress bar; Approve/Reject while it waits, Retry failed / Roll back applied once it is done."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=title(bulk))),
        _section(
            f"{who(bulk.requester)} asks to change *{len(bulk.members)} tasks* ({escape(bulk.selector)}): "
            f"{escape(clip(bulk.summary, 500))}"
        ),
    ]
    if bulk.break_glass:
        blocks.append(
            _section(
                f":rotating_light: *Break-glass* by {who(bulk.decided_by or bulk.requester)}: applied at once, without a "
                f"second person. Reason: _{escape(clip(bulk.break_glass, 300))}_"
            )
        )
    if bulk.not_before is not None:
        blocks.append(_context(scheduled_line(bulk.not_before, None, bulk.schedule_id)))
    groups = _diff_groups(bulk.members)
    budget = 30
    for text in groups[:budget]:
        blocks.append(_section(clip("*What changes* · " + text if text is groups[0] else text, TEXT_CHARS)))
    if len(groups) > budget:
        blocks.append(_context(f"… {len(groups) - budget} more distinct diffs; each task's is in `/rtc history <alias>`"))
    if bulk.refused:
        lines = [f"{escape(r.alias)}: {escape(r.reason)}" for r in bulk.refused]
        blocks.append(_section(f"*Not covered ({len(bulk.refused)})*\n" + lines_text(lines, limit=TEXT_CHARS - 40)))
    decided = ""
    if bulk.decided_by:
        verb = (
            "rejected" if bulk.state == BulkState.REJECTED else ("cancelled" if bulk.state == BulkState.CANCELLED else "approved")
        )
        decided = f" · {verb} by {who(bulk.decided_by)}"
    expiry = f" · expires {when(bulk.expires_at)}" if bulk.state == BulkState.PENDING else ""
    blocks.append(_context(_progress(bulk) + decided))
    blocks.append(_context(f"One approval covers all {len(bulk.members)} tasks; each task gets its own verdict{expiry}"))
    if bulk.state == BulkState.PENDING and bulk.needs_approval:
        blocks.append(approval_buttons(bulk))
    elif bulk.done and bulk.state == BulkState.APPROVED and bulk.failed:
        buttons = after_buttons(bulk)
        if buttons is not None:
            blocks.append(buttons)
    return fit_message(blocks)


def approval_buttons(bulk: BulkResult) -> ActionsBlock:
    value = f"{bulk.bulk_id}:{bulk.payload_hash}"
    return ActionsBlock(
        block_id=f"bulk_decide_{bulk.bulk_id}",
        elements=[
            ButtonElement(
                text=f"Approve all {len(bulk.members)}",
                action_id=APPROVE,
                value=value,
                style="primary",
                confirm=ConfirmObject(
                    title="Apply to every task?",
                    text=PlainTextObject(text=clip(f"{len(bulk.members)} tasks ({bulk.selector}): {bulk.summary}", 300)),
                    confirm="Approve",
                    deny="Back",
                ),
            ),
            ButtonElement(text="Reject", action_id=REJECT, value=value, style="danger"),
        ],
    )


def after_buttons(bulk: BulkResult) -> ActionsBlock | None:
    """After a partial failure: each button proposes a new bulk, through the same approval rules."""
    elements: list[ButtonElement] = []
    if bulk.retryable:
        elements.append(
            ButtonElement(
                text=f"Retry failed ({len(bulk.retryable)})",
                action_id=RETRY,
                value=str(bulk.bulk_id),
                confirm=ConfirmObject(
                    title="Propose the failed tasks again?",
                    text=PlainTextObject(
                        text=clip(f"The same values on {len(bulk.retryable)} tasks, approved as any change", 300)
                    ),
                    confirm="Propose",
                    deny="Back",
                ),
            )
        )
    if bulk.rollbackable and bulk.purpose != BulkPurpose.ROLLBACK:
        elements.append(
            ButtonElement(
                text=f"Roll back applied ({len(bulk.rollbackable)})",
                action_id=ROLLBACK,
                value=str(bulk.bulk_id),
                style="danger",
                confirm=ConfirmObject(
                    title="Propose rolling them back?",
                    text=PlainTextObject(
                        text=clip(
                            f"{len(bulk.rollbackable)} tasks back to their versions before this bulk, approved as any change", 300
                        )
                    ),
                    confirm="Propose",
                    deny="Back",
                ),
            )
        )
    return ActionsBlock(block_id=f"bulk_after_{bulk.bulk_id}", elements=elements) if elements else None


def outcome_line(m: Member) -> str:
    mark = STATE_EMOJI[m.state]
    alias = f"*{escape(m.alias)}*"
    if m.state == ChangeState.APPLIED:
        return f"{mark} {alias}: applied as v{m.result_version} · RequestId `{escape(m.provider_request_id or 'none')}`"
    if m.state == ChangeState.FAILED:
        gone = " (the task is gone: register it again)" if m.gone else ""
        return (
            f"{mark} {alias}: failed: `{escape(m.error_code or 'error')}` {escape(clip(m.error_message or '', 200))}{gone} · "
            f"RequestId `{escape(m.provider_request_id or 'none')}`"
        )
    if m.state == ChangeState.UNKNOWN:
        return f"{mark} {alias}: outcome unknown: check `/rtc status {escape(m.alias)}`"
    return f"{mark} {alias}: {m.state.words}" + (f": {escape(clip(m.error_message, 200))}" if m.error_message else "")


def outcomes(members: Sequence[Member]) -> list[dict[str, Any]]:
    lines = [outcome_line(m) for m in members]
    sections = [_section(lines_text(lines[i : i + 25], bullet="")) for i in range(0, len(lines), 25)]
    return fit_message(sections)


def decided_text(what: str, by: str, reason: str, bulk: BulkResult) -> str:
    n = len(bulk.members)
    match what:
        case "approved":
            return f":white_check_mark: Approved by {who(by)}: applying {n} tasks; the bar above follows them."
        case "rejected":
            return f":no_entry: Rejected by {who(by)}; none of the {n} tasks was changed."
        case "cancelled":
            why = f" ({escape(reason)})" if reason and reason != "cancelled" else ""
            return f":heavy_multiplication_x: Cancelled by {who(by)}{why}; none of the {n} tasks was changed."
        case _:
            return f":warning: {escape(what.capitalize())}: {escape(reason)}; none of the {n} tasks was changed."


def waiting(approvers: Sequence[str], bulk: BulkResult) -> str:
    who_ = ", ".join(approvers) if approvers else "an approver of every task (nobody holds that yet)"
    n = len(bulk.members)
    return f":hourglass_flowing_sand: Waiting for one approval of all {n} tasks from {who_}. Expires {when(bulk.expires_at)}."


def notify_line(bulk: BulkResult, link: str | None) -> str:
    mark = ":large_green_circle:" if not bulk.failed else ":red_circle:"
    where = f" · <{link}|thread>" if link else ""
    return clip(
        f"{mark} *{escape(bulk.selector)}* {_PURPOSE[bulk.purpose]} (bulk #{bulk.bulk_id}, {len(bulk.members)} tasks) by "
        f"{who(bulk.requester)}: {progress_line(bulk)}{where}",
        3000,
    )


def break_glass_line(bulk: BulkResult, link: str | None) -> str:
    where = f" · <{link}|thread>" if link else ""
    return clip(
        f":rotating_light: *BREAK-GLASS* on *{escape(bulk.selector)}* ({len(bulk.members)} tasks): "
        f"{who(bulk.decided_by or bulk.requester)} applied bulk #{bulk.bulk_id} ({escape(clip(bulk.summary, 200))}) without a "
        f"second person. Reason: _{escape(clip(bulk.break_glass or '', 300))}_{where}",
        3000,
    )


def picture_title(aliases: Sequence[str]) -> str:
    more = f" and {len(aliases) - 1} more" if len(aliases) > 1 else ""
    return clip(f"{aliases[0]}{more}: now (left) and proposed (right)", 250)


def preview_reply(preview: BulkPreview, replay: dict[str, Any]) -> list[dict[str, Any]]:
    """The confirmation a selector needs when it matched tasks the change does not cover. The button carries
    what to do again (the command, or the button it came from) and the token of exactly this set."""
    lines = [f"{escape(r.alias)}: {escape(r.reason)}" for r in preview.refused]
    blocks: list[Block] = [
        _section(
            f":warning: {escape(preview.selector)} matches {len(preview.included) + len(preview.refused)} tasks; "
            f"the change does not cover {len(preview.refused)} of them:\n" + lines_text(lines, limit=TEXT_CHARS - 300)
        ),
        _section(
            f"It can be proposed on the other {len(preview.included)}: "
            + ", ".join(escape(a) for a in preview.included[:30])
            + (f" and {len(preview.included) - 30} more" if len(preview.included) > 30 else "")
        ),
    ]
    value = json.dumps({**replay, "t": preview.token}, separators=(",", ":"), ensure_ascii=False)
    if len(value) <= 2000:
        blocks.append(
            ActionsBlock(
                block_id="bulk_confirm",
                elements=[
                    ButtonElement(
                        text=f"Propose on the {len(preview.included)} others",
                        action_id=CONFIRM,
                        value=value,
                        style="primary",
                    )
                ],
            )
        )
    else:
        blocks.append(_context("Too long to carry on a button: name the tasks with a narrower selector."))
    blocks.append(_context("Nothing was proposed yet; ignore this to drop it."))
    return fit_message(blocks)


def editor_preview(preview: BulkPreview, verb: str) -> str:
    """An editor's form cannot ride on a button: the person is told what was not covered, and how to go on."""
    lines = [f"{escape(r.alias)}: {escape(r.reason)}" for r in preview.refused]
    covered = ",".join(preview.included)
    how = (
        f"open the editor on the others (`/rtc {escape(verb)} {escape(covered)}`)"
        if len(preview.included) <= 50 and len(covered) <= 1000
        else "narrow the selector"
    )
    return clip(
        f":warning: Nothing was proposed: {escape(preview.selector)} matches tasks the change does not cover:\n"
        + lines_text(lines, limit=TEXT_CHARS - 400)
        + f"\nTo propose it on the other {len(preview.included)}, {how}.",
        TEXT_CHARS,
    )


def undeliverable(bulk: BulkResult, channel: str, error: str) -> str:
    where = f"<#{channel}>" if channel[:1] in ("C", "G") else "that conversation"
    state = (
        "it was cancelled, since nobody there could approve it" if bulk.state == BulkState.CANCELLED else "it stands as it was"
    )
    return (
        f":warning: Your bulk change #{bulk.bulk_id} on {len(bulk.members)} tasks ({escape(bulk.selector)}) could not be posted "
        f"in {where} (`{escape(error)}`): {state}. Invite @rtcops to the channel (`/invite @rtcops`), or use /rtc where it is."
    )


def proposed_reply(bulk: BulkResult) -> str:
    state = "waiting for approval" if bulk.state == BulkState.PENDING else "approved by policy: applying"
    return f":inbox_tray: Bulk change #{bulk.bulk_id} on {len(bulk.members)} tasks ({escape(bulk.selector)}): {state}."


# --- scenes ------------------------------------------------------------------------------------------


def scene_line(scene: SceneInfo) -> str:
    what = (
        f"configuration of {escape(scene.provider or '')} task {escape(scene.source)}"
        if scene.configuration is not None
        else "; ".join(f"{escape(verb)} {escape(' '.join(words))}" for verb, words in (scene.changes or {}).items())
    )
    saved = f"{who(scene.saved_by)} {when(scene.saved_at)}"
    return f"*{escape(scene.name)}* v{scene.version} · for {escape(scene.scope)} · {what} · {saved}"


def scene_list(scenes: Sequence[SceneInfo]) -> list[dict[str, Any]]:
    if not scenes:
        return fit_message([_section("No scenes yet: `/rtc scene save <alias> <name>` saves what a task runs now.")])
    return fit_message([_section("*Scenes*\n" + lines_text([scene_line(s) for s in scenes]))])


def scene_show(scene: SceneInfo, summary: Sequence[str]) -> list[dict[str, Any]]:
    blocks: list[Block] = [_section(scene_line(scene))]
    if summary:
        blocks.append(_section(lines_text([escape(line) for line in summary])))
    blocks.append(_context(f"Propose it: `/rtc scene apply {escape(scene.name)}` (or name other tasks after it)"))
    return fit_message(blocks)
