"""Block Kit renderers: service results in, Slack messages and views out.

Blocks are built with slack_sdk.models, whose to_dict() refuses structures Slack would refuse (text object
kinds, option counts, per-field lengths). On top of that sit our own guards for what slack_sdk does not
check: 50 blocks and about 12k characters per message, 100 blocks per view, 3000 characters per text.
Long content is clipped with a visible note instead of failing, because a request message that cannot be
posted is worse than one that says "… 12 more lines".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.services.forms import RegionLine
from bot.services.results import ChangeResult, ChangeSummary, GrantInfo, History, TaskInfo, TaskStatus

MESSAGE_BLOCKS = 50
MESSAGE_CHARS = 12_000
VIEW_BLOCKS = 100
TEXT_CHARS = 3000

APPROVE = "rtc_approve"
REJECT = "rtc_reject"
LAYOUT_EDITOR = "rtc_layout_editor"
INGEST_EDITOR = "rtc_ingest_editor"

_STATE_WORDS = {
    "pending": ":hourglass_flowing_sand: waiting for approval",
    "approved": ":white_check_mark: approved",
    "applying": ":arrows_counterclockwise: applying…",
    "applied": ":large_green_circle: applied",
    "failed": ":red_circle: failed",
    "rejected": ":no_entry: rejected",
    "cancelled": ":heavy_multiplication_x: cancelled",
    "expired": ":alarm_clock: expired",
    "stale": ":warning: stale",
    "unknown": ":grey_question: outcome unknown",
}


def clip(text: str, limit: int = TEXT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def who(user_id: str | None) -> str:
    """A mention for Slack users; CLI actors ("cli:name") are shown as they are."""
    if not user_id:
        return "someone"
    return f"<@{user_id}>" if user_id[:1] in ("U", "W") and ":" not in user_id else f"`{user_id}`"


def mention(subject_type: str, subject_id: str) -> str:
    return who(subject_id) if subject_type == "user" else f"<!subteam^{subject_id}>"


def when(moment: datetime) -> str:
    """Slack renders <!date…> in each reader's own time zone; the fallback is UTC."""
    epoch = int(moment.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{moment:%Y-%m-%d %H:%M} UTC>"


def lines_text(lines: Sequence[str], *, limit: int = TEXT_CHARS, bullet: str = "• ") -> str:
    """Join lines into one text that fits, ending with a count of what did not."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        item = bullet + line
        rest = len(lines) - i
        reserve = len(f"\n… {rest} more") if rest > 1 else 0
        if used + len(item) + 1 + reserve > limit:
            out.append(f"… {rest} more")
            break
        out.append(item)
        used += len(item) + 1
    return clip("\n".join(out), limit) if out else "_(none)_"


def _chars(block: dict[str, Any]) -> int:
    return len(json.dumps(block, ensure_ascii=False))


def fit_message(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """Serialize (slack_sdk validates each block) and keep within 50 blocks and ~12k characters."""
    dicts = [b.to_dict() for b in blocks]
    out: list[dict[str, Any]] = []
    used = 0
    for i, block in enumerate(dicts):
        size = _chars(block)
        if (len(out) == MESSAGE_BLOCKS - 1 and i < len(dicts) - 1) or used + size > MESSAGE_CHARS:
            note = ContextBlock(elements=[MarkdownTextObject(text=f"… {len(dicts) - i} more blocks not shown")])
            out.append(note.to_dict())
            break
        out.append(block)
        used += size
    return out


def fit_view(view: View) -> dict[str, Any]:
    data = view.to_dict()
    blocks = data.get("blocks", [])
    if len(blocks) > VIEW_BLOCKS:
        dropped = len(blocks) - (VIEW_BLOCKS - 1)
        note = ContextBlock(elements=[MarkdownTextObject(text=f"… {dropped} more not shown")]).to_dict()
        data["blocks"] = [*blocks[: VIEW_BLOCKS - 1], note]
    return data


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text))


def _section(text: str, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(text=_md(text), block_id=block_id)


def _context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[_md(t) for t in texts if t][:10])


# --- short replies ----------------------------------------------------------------------------------


def text_reply(text: str) -> list[dict[str, Any]]:
    return fit_message([_section(text)])


def usage_reply(problem: str, usage: str) -> list[dict[str, Any]]:
    return fit_message([_section(f":warning: {problem}"), _section("Usage:\n```" + clip(usage, TEXT_CHARS - 20) + "```")])


def help_reply(help_text: str) -> list[dict[str, Any]]:
    return fit_message([_section("```" + clip(help_text, TEXT_CHARS - 10) + "```")])


# --- change requests --------------------------------------------------------------------------------


def _change_title(change: ChangeResult) -> str:
    what = f"rollback to v{change.rollback_to}" if change.rollback_to is not None else f"{change.kind} change"
    return clip(f"{change.alias}: {what} (#{change.request_id})", 150)


def change_fallback(change: ChangeResult) -> str:
    """Notification text (and the screen-reader text) for the request message."""
    return clip(f"{_change_title(change)} by {who(change.requester)}: {_STATE_WORDS.get(change.state, change.state)}", 300)


def _outcome(change: ChangeResult) -> str:
    if change.state == "applied":
        return (
            f":large_green_circle: *Applied* as version {change.result_version} · "
            f"RequestId `{change.provider_request_id or 'none'}`"
        )
    if change.state == "failed":
        return (
            f":red_circle: *Failed*: `{change.error_code or 'error'}` {change.error_message or ''} · "
            f"RequestId `{change.provider_request_id or 'none'}`"
        )
    if change.state == "unknown":
        return ":grey_question: *Outcome unknown*: check `/rtc status " + change.alias + "` before proposing again"
    if change.state == "applying" and change.error_code:
        return (
            f":hourglass_flowing_sand: *No answer yet* (`{change.error_code}`): the provider may still apply it. "
            f"rtcops checks what is in force and posts the outcome here; {change.alias} stays locked until then"
        )
    return _STATE_WORDS.get(change.state, change.state)


def request_message(change: ChangeResult, approvers: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The parent message of a change: who, what, state; buttons only while it waits for approval."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=_change_title(change))),
        _section(f"{who(change.requester)} asks to change *{change.alias}* ({change.provider}): {clip(change.summary, 500)}"),
        _section("*What changes*\n" + lines_text(change.diff_lines, limit=TEXT_CHARS - 20)),
    ]
    if change.drift_lines:
        blocks.append(
            _section(
                "*Changed outside rtcops since the last applied version*\n"
                + lines_text(change.drift_lines, limit=TEXT_CHARS - 80)
            )
        )
    state = _outcome(change)
    if change.decided_by:
        verb = "rejected" if change.state == "rejected" else "approved"
        state += f" · {verb} by {who(change.decided_by)}"
    blocks.append(
        _context(
            state,
            f"base version {change.base_version} · expires {when(change.expires_at)}"
            if change.state == "pending"
            else f"base version {change.base_version}",
        )
    )
    if change.state == "pending" and change.needs_approval:
        if approvers:
            blocks.append(_context("Approvers: " + ", ".join(approvers)))
        blocks.append(approval_buttons(change))
    return fit_message(blocks)


def approval_buttons(change: ChangeResult) -> ActionsBlock:
    value = f"{change.request_id}:{change.payload_hash}"
    return ActionsBlock(
        block_id=f"decide_{change.request_id}",
        elements=[
            ButtonElement(
                text="Approve",
                action_id=APPROVE,
                value=value,
                style="primary",
                confirm=ConfirmObject(
                    title="Apply this change?",
                    text=clip(f"{change.alias}: {change.summary}", 300),
                    confirm="Approve",
                    deny="Back",
                ),
            ),
            ButtonElement(text="Reject", action_id=REJECT, value=value, style="danger"),
        ],
    )


def thread_outcome(change: ChangeResult) -> list[dict[str, Any]]:
    text = _outcome(change)
    if change.state == "failed":
        text += "\nWhat next: fix the cause above, then propose again; nothing was changed on the stream."
    if change.sequence_number is not None:
        text += f"\nSequenceNumber {change.sequence_number}"
    return fit_message([_section(text)])


def notify_line(change: ChangeResult, link: str | None) -> str:
    mark = ":large_green_circle:" if change.state == "applied" else ":red_circle:"
    detail = (
        f"applied v{change.result_version}, RequestId `{change.provider_request_id or 'none'}`"
        if change.state == "applied"
        else f"{change.state}: `{change.error_code or 'error'}`"
    )
    where = f" · <{link}|thread>" if link else ""
    head = f"{mark} *{change.alias}* {change.kind} change #{change.request_id} by {who(change.requester)}"
    return clip(f"{head}: {detail}{where}", 3000)


# --- listings ---------------------------------------------------------------------------------------


def _task_line(task: TaskInfo) -> str:
    ids = " ".join(f"{k}={v}" for k, v in task.identifiers.items())
    tags = f" · tags {', '.join(task.tags)}" if task.tags else ""
    lock = f" · :lock: request #{task.open_request_id}" if task.open_request_id else ""
    return f"*{task.alias}* ({task.provider}) v{task.version} · {ids}{tags}{lock}"


def task_list(tasks: Sequence[TaskInfo], states: dict[str, str] | None = None) -> list[dict[str, Any]]:
    if not tasks:
        return text_reply("No tasks you may see. An admin adds them with `/rtc task add …`.")
    lines = [_task_line(t) + (f" · {states[t.alias]}" if states and t.alias in states else "") for t in tasks]
    return fit_message([_section("*Tasks*"), *(_section(lines_text(chunk, bullet="")) for chunk in _chunks(lines, 10))])


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def task_status(status: TaskStatus) -> list[dict[str, Any]]:
    p = status.provider
    head = f"*{status.task.alias}* ({status.task.provider}) · provider says *{p.state}*"
    if p.request_id:
        head += f" · RequestId `{p.request_id}`"
    blocks: list[Block] = [_section(head)]
    if p.error:
        blocks.append(_section(f":warning: {p.error}"))
    config = status.task.configuration
    body = json.dumps(config, indent=1, ensure_ascii=False) if config else "(no configuration applied through rtcops yet)"
    blocks.append(_section(f"*Version {status.task.version} in force*\n```" + clip(body, TEXT_CHARS - 40) + "```"))
    if status.drift_lines:
        blocks.append(_section("*Changed outside rtcops*\n" + lines_text(status.drift_lines)))
    return fit_message(blocks)


def history(h: History) -> list[dict[str, Any]]:
    versions = [
        f"v{v.version} · {when(v.applied_at)} · {who(v.applied_by)}"
        + (f" · request #{v.change_request_id}" if v.change_request_id else "")
        + (f" · {v.note}" if v.note else "")
        for v in h.versions
    ]
    changes = [_change_summary_line(c) for c in h.changes]
    return fit_message(
        [
            _section(f"*{h.alias}* is at version {h.current_version}"),
            _section("*Versions*\n" + lines_text(versions)),
            _section("*Changes*\n" + lines_text(changes)),
        ]
    )


def _change_summary_line(c: ChangeSummary, *, with_alias: bool = False) -> str:
    outcome = f" → v{c.result_version}" if c.result_version else ""
    rid = f" · RequestId `{c.provider_request_id}`" if c.provider_request_id else ""
    err = f" · `{c.error_code}`" if c.error_code else ""
    task = f"*{c.alias}* " if with_alias and c.alias else ""
    head = f"{task}#{c.request_id} {c.kind} · {c.state}{outcome} · {who(c.requester)} · {when(c.created_at)}"
    return f"{head} · {clip(c.summary, 200)}{rid}{err}"


def grant_list(grants: Sequence[GrantInfo]) -> list[dict[str, Any]]:
    lines = []
    for g in grants:
        subject = mention(g.subject_type, g.subject_id)
        expiry = f" · until {when(g.expires_at)}" if g.expires_at else ""
        origin = " · from RTCOPS_ADMIN_USERS" if g.bootstrap else f" · by {who(g.granted_by)}"
        lines.append(f"{subject} *{g.role}* on {g.scope}{expiry}{origin}")
    return fit_message([_section("*Grants*\n" + lines_text(lines))])


# --- modals -----------------------------------------------------------------------------------------


def loading_modal(title: str, callback_id: str) -> dict[str, Any]:
    return fit_view(
        View(
            type="modal",
            callback_id=callback_id,
            title=clip(title, 24),
            close="Cancel",
            blocks=[_section(":hourglass_flowing_sand: Loading…")],
        )
    )


def notice_modal(title: str, text: str) -> dict[str, Any]:
    return fit_view(View(type="modal", title=clip(title, 24), close="Close", blocks=[_section(text)]))


def _text_input(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    optional: bool = False,
    multiline: bool = False,
    hint: str | None = None,
    placeholder: str | None = None,
) -> InputBlock:
    element = PlainTextInputElement(
        action_id="value",
        initial_value=clip(initial, 3000) if initial else None,
        multiline=multiline or None,
        placeholder=clip(placeholder, 150) if placeholder else None,
    )
    return InputBlock(
        block_id=block_id, label=clip(label, 2000), element=element, optional=optional, hint=clip(hint, 2000) if hint else None
    )


KEEP_REGIONS = "custom"
"""Preset picker value meaning "no preset: keep the regions and edit them one by one below"."""


def editor_metadata(alias: str, channel: str | None) -> str:
    """private_metadata holds IDs only: the task alias and the channel the editor was opened from."""
    return f"{alias} {channel or '-'}"


def parse_editor_metadata(metadata: str) -> tuple[str, str | None]:
    alias, _, channel = metadata.partition(" ")
    return alias, (channel if channel and channel != "-" else None)



def layout_modal(
    alias: str,
    channel: str | None,
    canvas: tuple[int, int],
    presets: Sequence[tuple[str, str]],
    streams: Sequence[str],
    regions: Sequence[RegionLine],
    background: str | None,
    preset_hint: str,
) -> dict[str, Any]:
    """The layout editor. The canvas size travels in a block_id, so the submission can be checked before
    the acknowledgement without reading the store."""
    options = [Option(value=KEEP_REGIONS, text="Keep regions (edit below)")]
    options += [
        Option(value=name, text=clip(name, 75), description=clip(summary, 75) if summary else None)
        for name, summary in presets[:99]
    ]
    width, height = canvas
    view_blocks: list[Block] = [
        ContextBlock(
            block_id=f"canvas_{width}x{height}",
            elements=[
                _md(
                    f"Editing *{alias}* on a {width}×{height} canvas. Pick a preset, or keep the regions "
                    "and edit one under *Advanced*."
                )
            ],
        ),
        InputBlock(
            block_id="preset",
            label="Preset",
            element=StaticSelectElement(action_id="value", options=options, initial_option=options[0]),
        ),
        _text_input(
            "streams",
            "Streams, in order",
            initial="\n".join(streams),
            multiline=True,
            optional=True,
            hint="For a preset: one user id per line; add :screen for a screen share, e.g. guest:screen",
        ),
        _text_input("options", "Preset options", optional=True, hint=clip(preset_hint, 2000), placeholder="corner=tr size=0.25"),
        _text_input("background", "Background colour", optional=True, initial=background, placeholder="#303342"),
        HeaderBlock(text="Advanced: regions"),
        _context(
            "One field per region: `x y width height z`, shares of the canvas (0–1) and a z-order. "
            "Used with *Keep regions*; edit one region per proposal."
        ),
    ]
    for region in regions[: VIEW_BLOCKS - len(view_blocks) - 1]:
        label = clip(f"Region {region.stream_index}: {region.label}", 2000)
        view_blocks.append(_text_input(f"region_{region.stream_index}", label, initial=region.line, optional=True))
    return fit_view(
        View(
            type="modal",
            callback_id=LAYOUT_EDITOR,
            private_metadata=editor_metadata(alias, channel),
            title="Layout editor",
            submit="Propose",
            close="Cancel",
            blocks=view_blocks,
        )
    )


def ingest_modal(
    alias: str, channel: str | None, site: str, url: str | None, volume: int | None, paused: bool | None, volume_max: int
) -> dict[str, Any]:
    running = Option(value="running", text="Running")
    pause = Option(value="paused", text="Paused")
    view_blocks: list[Block] = [
        ContextBlock(
            block_id=f"site_{site}", elements=[_md(f"Editing *{alias}* ({site} site). Fields left as they are keep their value.")]
        ),
        _text_input("url", "Source URL", initial=url, optional=True, placeholder="rtmp://… or https://…"),
        _text_input(
            "volume",
            f"Volume (0–{volume_max})",
            initial=None if volume is None else str(volume),
            optional=True,
            hint=f"100 is the source's own volume; this site allows 0 to {volume_max}",
        ),
        InputBlock(
            block_id="state",
            label="State",
            optional=True,
            element=RadioButtonsElement(
                action_id="value",
                options=[running, pause],
                initial_option=None if paused is None else (pause if paused else running),
            ),
        ),
    ]
    return fit_view(
        View(
            type="modal",
            callback_id=INGEST_EDITOR,
            private_metadata=editor_metadata(alias, channel),
            title="Ingest editor",
            submit="Propose",
            close="Cancel",
            blocks=view_blocks,
        )
    )


# --- App Home ---------------------------------------------------------------------------------------


def _open_line(c: ChangeResult) -> str:
    link = f" · <{c.link}|thread>" if c.link else ""
    return f"*{c.alias}* #{c.request_id} · {_STATE_WORDS.get(c.state, c.state)} · {clip(c.summary, 200)}{link}"


def home_view(
    *, waiting: Sequence[ChangeResult], mine: Sequence[ChangeResult], tasks: Sequence[TaskInfo], recent: Sequence[ChangeSummary]
) -> dict[str, Any]:
    blocks: list[Block] = [HeaderBlock(text="rtcops"), _section("*Waiting for your approval*")]
    if not waiting:
        blocks.append(_context("Nothing waits for you."))
    for change in waiting[:15]:
        blocks.append(
            _section(
                f"*{change.alias}* #{change.request_id} by {who(change.requester)}: {clip(change.summary, 300)}\n"
                + lines_text(change.diff_lines, limit=1500)
            )
        )
        blocks.append(approval_buttons(change))
    blocks += [DividerBlock(), _section("*Your open requests*")]
    blocks.append(_section(lines_text([_open_line(c) for c in mine])))
    blocks += [DividerBlock(), _section("*Tasks you can see*")]
    blocks.append(_section(lines_text([_task_line(t) for t in tasks])))
    blocks += [DividerBlock(), _section("*Last ten changes*")]
    blocks.append(_section(lines_text([_change_summary_line(c, with_alias=True) for c in recent[:10]])))
    return fit_view(View(type="home", blocks=blocks))
