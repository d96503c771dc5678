"""Block Kit for show mode: the rundown message (cues, window, the cue on air, the next one with its picture, and
its buttons), rundown and schedule listings, the rundown editor modal, and the thread lines of both."""

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
    ImageBlock,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.domain import RundownState
from bot.services.rundowns import CueInfo, RundownInfo
from bot.services.schedules import ScheduleInfo
from bot.services.when import show
from handlers.blocks import TEXT_CHARS, _context, _section, clip, escape, fit_message, fit_view, lines_text, when, who

APPROVE = "rtc_rundown_approve"
REJECT = "rtc_rundown_reject"
NEXT = "rtc_cue_next"
EDITOR = "rtc_rundown_editor"
CUES_BLOCK = "cues"
CUES_ACTION = "value"


def _steps(cue: CueInfo) -> str:
    return "; ".join(f"`{escape(s)}`" for s in cue.steps)


def _cue_line(r: RundownInfo, cue: CueInfo) -> str:
    armed = r.state == RundownState.ARMED
    if armed and cue.position == r.on_air:
        mark = ":red_circle: *ON AIR*"
    elif armed and cue.fired:
        mark = ":white_check_mark:"
    elif armed and cue.position == r.next:
        mark = ":arrow_forward: *next*"
    else:
        mark = ":white_small_square:"
    tasks = f" · {len(cue.tasks)} tasks" if cue.tasks else ""
    return f"{mark} *{cue.position}* {escape(cue.label)}{tasks}"


def _state(r: RundownInfo) -> str:
    if r.state == RundownState.ARMED:
        return f":large_green_circle: *Armed* for {escape(r.window_text)} · approved by {who(r.decided_by)}"
    if r.state == RundownState.PENDING:
        expires = f"; the request expires {when(r.expires_at)}" if r.expires_at else ""
        return (
            f":hourglass_flowing_sand: *Waiting for approval*, asked by {who(r.requested_by)}: once approved it is armed "
            f"for {escape(r.window_text)}{expires}. One approval covers every cue."
        )
    if r.epoch:
        return (
            f":double_vertical_bar: *Disarmed*: it changed since it was approved (or was not approved). "
            f"`/rtc rundown arm {escape(r.name)} HH:MM-HH:MM` puts it up again."
        )
    return f":memo: *Draft*: `/rtc rundown arm {escape(r.name)} HH:MM-HH:MM` puts it up for approval."


def fallback(r: RundownInfo) -> str:
    on_air = f" · cue {r.on_air} on air" if r.on_air else ""
    return clip(f"Rundown {r.name}: {r.state.words}{on_air}", 300)


def rundown_message(r: RundownInfo) -> list[dict[str, Any]]:
    """The rundown message: always the cue on air, the next cue and its picture, and the one button that moves on."""
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=clip(f"Rundown {r.name}", 150))), _section(_state(r))]
    blocks.append(_section(lines_text([_cue_line(r, c) for c in r.cues], limit=TEXT_CHARS - 20, bullet="")))
    armed = r.state == RundownState.ARMED
    on_air = r.cue(r.on_air) if armed and r.on_air else None
    upcoming = r.cue(r.next) if armed and r.next else None
    if armed:
        now_text = f"*On air:* cue {on_air.position}: {escape(on_air.label)}" if on_air else "*On air:* nothing yet"
        next_text = (
            f"*Next:* cue {upcoming.position}: {escape(upcoming.label)}\n{_steps(upcoming)}"
            if upcoming
            else "*Next:* nothing: the rundown is done"
        )
        blocks += [_section(now_text), _section(next_text)]
        if upcoming and r.preview and r.preview[0] == upcoming.position:
            blocks.append(
                ImageBlock(
                    slack_file={"id": r.preview[1]},
                    alt_text=clip(f"cue {upcoming.position}: {upcoming.label}", 2000),
                    title=PlainTextObject(text=clip(f"Next: cue {upcoming.position}", 150)),
                    block_id=f"preview_{r.epoch}_{upcoming.position}",
                )
            )
    if r.state == RundownState.PENDING:
        blocks.append(approval_buttons(r))
    elif upcoming is not None:
        blocks.append(
            ActionsBlock(
                block_id=f"cue_{r.epoch}_{upcoming.position}",
                elements=[
                    ButtonElement(
                        text=clip(f"Next cue: {upcoming.position} · {upcoming.label}", 75),
                        action_id=NEXT,
                        value=f"{r.rundown_id}:{r.epoch}:{upcoming.position}",
                        style="primary",
                    )
                ],
            )
        )
    if armed:
        blocks.append(
            _context(f"Each cue fires once · `/rtc cue {escape(r.name)} <n>` fires another · any edit disarms the rundown")
        )
    return fit_message(blocks)


def approval_buttons(r: RundownInfo) -> ActionsBlock:
    value = f"{r.rundown_id}:{r.payload_hash}"
    return ActionsBlock(
        block_id=f"rundown_decide_{r.epoch}",
        elements=[
            ButtonElement(
                text="Approve rundown",
                action_id=APPROVE,
                value=value,
                style="primary",
                confirm=ConfirmObject(
                    title="Arm this rundown?",
                    text=PlainTextObject(
                        text=clip(
                            f"{r.name}: {len(r.cues)} cues fire without another approval, by operators, within {r.window_text}.",
                            300,
                        )
                    ),
                    confirm="Approve",
                    deny="Back",
                ),
            ),
            ButtonElement(text="Reject", action_id=REJECT, value=value, style="danger"),
        ],
    )


def request_details(r: RundownInfo, payloads: Sequence[tuple[int, list[str]]]) -> list[dict[str, Any]]:
    """What each cue does to each task, for the approver (in the rundown message's thread)."""
    blocks: list[Block] = []
    for position, lines in payloads:
        cue = r.cue(position)
        label = escape(cue.label) if cue else ""
        blocks.append(_section(f"*Cue {position}: {label}*\n" + lines_text([escape(x) for x in lines], limit=TEXT_CHARS - 200)))
    return fit_message(blocks or [_section("_(no cue changes anything)_")])


_DECIDED = {
    "armed": ":large_green_circle: Approved by {who}: armed. Operators fire the cues with *Next cue*, no further approval.",
    "rejected": ":no_entry: Rejected by {who}.",
    "expired": ":alarm_clock: Nobody approved it in time; arm it again.",
    "disarmed": ":double_vertical_bar: Disarmed by {who}: {reason}. It needs a new approval.",
    "deleted": ":wastebasket: Deleted by {who}.",
}


def decided_text(what: str, by: str, reason: str) -> str:
    return _DECIDED.get(what, "{what} by {who}.").format(who=who(by), what=escape(what), reason=escape(reason))


def cue_fired_text(position: int, label: str, by: str, overwritten: Sequence[str], link: str | None) -> str:
    where = f" (<{link}|progress>)" if link else ""
    text = f":clapper: Cue {position} on air: {escape(label)}, fired by {who(by)}{where}."
    if overwritten:
        text += "\nChanged since the previous cue, and overwritten now:\n" + lines_text(
            [escape(line) for line in overwritten], limit=TEXT_CHARS - 300
        )
    return clip(text, TEXT_CHARS)


def reminder(approvers: Sequence[str], r: RundownInfo) -> str:
    who_ = ", ".join(approvers) if approvers else "an approver of every task in it"
    expires = f" This request expires {when(r.expires_at)}." if r.expires_at else ""
    return f":bell: Rundown *{escape(r.name)}* still waits for one approval from {who_}.{expires}"


def rundown_show(r: RundownInfo) -> list[dict[str, Any]]:
    cues = [f"*{c.position}* {escape(c.label)}\n{_steps(c)}" for c in r.cues]
    blocks: list[Block] = [
        _section(f"*Rundown {escape(r.name)}* · version {r.version}\n{_state(r)}"),
        _section(lines_text(cues, limit=TEXT_CHARS - 20, bullet="") if cues else "_(no cues yet: `/rtc rundown add`)_"),
    ]
    if r.link:
        blocks.append(_context(f"<{r.link}|The rundown message>"))
    return fit_message(blocks)


def rundown_list(found: Sequence[RundownInfo]) -> list[dict[str, Any]]:
    if not found:
        return fit_message([_section("No rundowns yet: `/rtc rundown create <name>`.")])
    lines = [
        f"*{escape(r.name)}*: {len(r.cues)} cues · {r.state.words}" + (f" · {escape(r.window_text)}" if r.window else "")
        for r in found
    ]
    return fit_message([_section(lines_text(lines))])


def schedule_list(found: Sequence[ScheduleInfo]) -> list[dict[str, Any]]:
    if not found:
        return fit_message([_section("Nothing is scheduled.")])
    lines = [
        f"*#{s.schedule_id}* {escape(show(s.fire_at, s.tz))} ({when(s.fire_at)} yours) · {escape(s.summary)} · "
        f"by {who(s.created_by)}"
        for s in found
    ]
    return fit_message([_section(lines_text(lines)), _context("`/rtc schedule cancel <id>` withdraws one.")])


def scheduled_reply(schedule_id: int, what: str, at_text: str) -> str:
    return (
        f":alarm_clock: Scheduled: {escape(what)} at {escape(at_text)} (schedule #{schedule_id}; "
        f"`/rtc schedule cancel {schedule_id}` withdraws it)."
    )


def fired_reply(rundown: str, position: int, changed: int, already: int) -> str:
    more = f"; {already} already ran it" if already else ""
    return f":clapper: Cue {position} of *{escape(rundown)}* fired: {changed} tasks to change{more}."


def editor_modal(r: RundownInfo) -> dict[str, Any]:
    """The whole cue list as text, one cue per line (`label: step; step`): edited and saved as a new version."""
    text = "\n".join(f"{c.label}: {'; '.join(c.steps)}" for c in r.cues)
    view = View(
        type="modal",
        callback_id=EDITOR,
        title=PlainTextObject(text="Rundown"),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=json.dumps({"r": r.rundown_id, "v": r.version, "n": r.name}),
        blocks=[
            _section(
                f"*{escape(r.name)}*: one cue per line, `label: step; step`. A step is a change command without /rtc "
                "(`layout studio preset=full`) or `scene <name> [<alias>|<selector>]`. Saving disarms the rundown."
            ),
            InputBlock(
                block_id=CUES_BLOCK,
                label=PlainTextObject(text="Cues"),
                element=PlainTextInputElement(action_id=CUES_ACTION, multiline=True, initial_value=clip(text, 3000) or None),
            ),
        ],
    )
    return fit_view(view)
