"""Block Kit renderers: service results in, Slack messages and views out.

Blocks are built with slack_sdk.models, whose to_dict() refuses structures Slack would refuse (text object
kinds, option counts, per-field lengths). On top of that sit our own guards for what slack_sdk does not
check: 50 blocks and about 12k characters per message, 100 blocks per view, 3000 characters per text.
Long content is clipped with a visible note instead of failing, because a request message that cannot be
posted is worse than one that says "… 12 more lines".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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

from bot.domain import BaselineSource, ChangeState, Condition, IncidentKind, IncidentState
from bot.services.editors import Editor, Field, Heading, Note
from bot.services.results import (
    Access,
    ChangeResult,
    ChangeSummary,
    GrantInfo,
    History,
    IncidentView,
    TaskAdded,
    TaskInfo,
    TaskPage,
    TaskStatus,
    WatchInfo,
)
from bot.services.when import show

MESSAGE_BLOCKS = 50
MESSAGE_CHARS = 12_000
VIEW_BLOCKS = 100
TEXT_CHARS = 3000

APPROVE = "rtc_approve"
REJECT = "rtc_reject"
RETRY = "rtc_retry"
EDITOR = "rtc_editor"
INCIDENT_ACK = "rtc_incident_ack"
INCIDENT_MUTE = "rtc_incident_mute"
INCIDENT_RESTORE = "rtc_incident_restore"
INCIDENT_ACCEPT = "rtc_incident_accept"

STATE_EMOJI: dict[ChangeState, str] = {
    ChangeState.PENDING: ":hourglass_flowing_sand:",
    ChangeState.APPROVED: ":white_check_mark:",
    ChangeState.APPLYING: ":arrows_counterclockwise:",
    ChangeState.APPLIED: ":large_green_circle:",
    ChangeState.FAILED: ":red_circle:",
    ChangeState.UNKNOWN: ":grey_question:",
    ChangeState.REJECTED: ":no_entry:",
    ChangeState.CANCELLED: ":heavy_multiplication_x:",
    ChangeState.EXPIRED: ":alarm_clock:",
    ChangeState.STALE: ":warning:",
}


def state_words(state: ChangeState) -> str:
    return f"{STATE_EMOJI[state]} {state.words}"


def escape(text: str) -> str:
    """Text someone typed (or a provider sent), made inert in mrkdwn: `&`, `<` and `>` become entities, so
    `<!channel>` pings nobody and `<https://evil|label>` links nowhere."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
    """The grammar in as many code sections as it takes (a section holds 3000 characters)."""
    parts: list[str] = []
    for line in help_text.splitlines():
        if parts and len(parts[-1]) + len(line) + 1 <= TEXT_CHARS - 10:
            parts[-1] += "\n" + line
        else:
            parts.append(line)
    return fit_message([_section("```" + clip(part, TEXT_CHARS - 10) + "```") for part in parts])


# --- change requests --------------------------------------------------------------------------------


def _change_title(change: ChangeResult) -> str:
    what = f"rollback to v{change.rollback_to}" if change.rollback_to is not None else f"{change.kind.value} change"
    return clip(f"{change.alias}: {what} (#{change.request_id})", 150)


def change_fallback(change: ChangeResult) -> str:
    """Notification text (and the screen-reader text) for the request message."""
    return clip(f"{_change_title(change)} by {who(change.requester)}: {state_words(change.state)}", 300)


def _outcome(change: ChangeResult) -> str:
    if change.state == ChangeState.APPLIED:
        return (
            f":large_green_circle: *Applied* as version {change.result_version} · "
            f"RequestId `{change.provider_request_id or 'none'}`"
        )
    if change.state == ChangeState.FAILED:
        return (
            f":red_circle: *Failed*: `{escape(change.error_code or 'error')}` {escape(change.error_message or '')} · "
            f"RequestId `{escape(change.provider_request_id or 'none')}`"
        )
    if change.state == ChangeState.UNKNOWN:
        return ":grey_question: *Outcome unknown*: check `/rtc status " + change.alias + "` before proposing again"
    if change.state == ChangeState.APPLYING and change.error_code:
        return (
            f":hourglass_flowing_sand: *No answer yet* (`{escape(change.error_code)}`): the provider may have applied it. "
            f"rtcops sends it again to find out and posts the outcome here; {change.alias} stays locked until then"
        )
    return state_words(change.state)


def request_message(change: ChangeResult) -> list[dict[str, Any]]:
    """The parent message of a change: who, what, state; buttons only while it waits for approval."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=_change_title(change))),
        _section(
            f"{who(change.requester)} asks to change *{change.alias}* ({change.provider}): {escape(clip(change.summary, 500))}"
        ),
        _section("*What changes*\n" + lines_text([escape(line) for line in change.diff_lines], limit=TEXT_CHARS - 20)),
    ]
    if change.break_glass:
        blocks.append(_section(break_glass_line(change)))
    if change.not_before is not None:
        blocks.append(_context(scheduled_line(change.not_before, change.schedule_tz, change.schedule_id)))
    if change.drift_lines:
        blocks.append(
            _section(
                "*Changed outside rtcops since the last applied version*\n"
                + lines_text([escape(line) for line in change.drift_lines], limit=TEXT_CHARS - 80)
            )
        )
    state = _outcome(change)
    if change.decided_by:
        verb = "rejected" if change.state == ChangeState.REJECTED else "approved"
        state += f" · {verb} by {who(change.decided_by)}"
    blocks.append(
        _context(
            state,
            f"base version {change.base_version} · expires {when(change.expires_at)}"
            if change.state == ChangeState.PENDING
            else f"base version {change.base_version}",
        )
    )
    if change.state == ChangeState.PENDING and change.needs_approval:
        blocks.append(approval_buttons(change))
    return fit_message(blocks)


def break_glass_line(change: ChangeResult) -> str:
    return (
        f":rotating_light: *Break-glass* by {who(change.decided_by or change.requester)}: applied at once, without a "
        f"second person. Reason: _{escape(clip(change.break_glass or '', 300))}_"
    )


def scheduled_line(at: datetime, tz: str | None, schedule_id: int | None) -> str:
    """When a scheduled change is to happen, in the scheduler's zone and UTC (what they typed), and in the
    reader's own zone (Slack renders `<!date>` for each reader)."""
    ref = f" · schedule #{schedule_id} (`/rtc schedule cancel {schedule_id}`)" if schedule_id else ""
    return f":alarm_clock: Scheduled for {escape(show(at, tz))}, your time {when(at)}{ref}"


def break_glass_notice(change: ChangeResult, link: str | None) -> str:
    """Loud, in the notification channel."""
    where = f" · <{link}|thread>" if link else ""
    return clip(
        f":rotating_light: *BREAK-GLASS* on *{change.alias}*: {who(change.decided_by or change.requester)} applied "
        f"#{change.request_id} ({escape(clip(change.summary, 200))}) without a second person. "
        f"Reason: _{escape(clip(change.break_glass or '', 300))}_{where}",
        3000,
    )


def reminder(approvers: Sequence[str], expires_at: datetime) -> str:
    who_ = ", ".join(approvers) if approvers else "an approver (nobody holds approver on this task yet)"
    return f":bell: Still waiting for approval from {who_}: this request expires {when(expires_at)}."


def schedule_settled(what: str, detail: str) -> str:
    if what == "fired":
        return f":alarm_clock: Its time has come: {escape(detail)}."
    return f":warning: Schedule missed: {escape(detail)}."


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
                    text=PlainTextObject(text=clip(f"{change.alias}: {change.summary}", 300)),
                    confirm="Approve",
                    deny="Back",
                ),
            ),
            ButtonElement(text="Reject", action_id=REJECT, value=value, style="danger"),
        ],
    )


def thread_outcome(change: ChangeResult) -> list[dict[str, Any]]:
    text = _outcome(change)
    if change.state == ChangeState.FAILED and change.gone:
        text += (
            f"\nWhat next: {change.alias} no longer exists at the provider (it ended or was stopped); nothing was changed. "
            f"Register the running task again (`/rtc task add …`) before proposing a change."
        )
    elif change.state == ChangeState.FAILED:
        text += "\nWhat next: fix the cause above, then propose again; nothing was changed on the stream."
    if change.sequence_number is not None and change.uses_sequence_number:
        text += f"\nSequenceNumber {change.sequence_number}"
    if change.state != ChangeState.UNKNOWN:
        return fit_message([_section(text)])
    text += (
        "\nWhat next: look at what is on air. If the change is not there, an approver can send it again: the values"
        " are absolute, so sending them twice sets the same thing."
    )
    retry = ButtonElement(
        text="Retry",
        action_id=RETRY,
        value=f"{change.request_id}:{change.payload_hash}",
        confirm=ConfirmObject(
            title="Send it again?",
            text=PlainTextObject(text=clip(f"{change.alias}: {change.summary}", 300)),
            confirm="Send again",
            deny="Back",
        ),
    )
    return fit_message([_section(text), ActionsBlock(block_id=f"retry_{change.request_id}", elements=[retry])])


def waiting(approvers: Sequence[str], expires_at: datetime) -> str:
    who_ = ", ".join(approvers) if approvers else "an approver (nobody holds approver on this task yet)"
    return f":hourglass_flowing_sand: Waiting for approval from {who_}. Expires {when(expires_at)}."


_DECIDED = {
    "approved": ":white_check_mark: Approved by {who}.",
    "rejected": ":no_entry: Rejected by {who}.",
    "cancelled": ":heavy_multiplication_x: Cancelled by {who}.",
    "unlocked": ":heavy_multiplication_x: Cancelled by {who} (lock broken).",
}


def decided(what: str, by: str) -> str:
    return _DECIDED.get(what, "{what} by {who}.").format(who=who(by), what=escape(what))


def resending(cause: str, alias: str) -> str:
    return (
        f":hourglass_flowing_sand: No definite answer from the provider yet (`{escape(cause)}`): it may have applied "
        f"the change, so rtcops sends it again to find out. {alias} stays locked until the outcome is known."
    )


def recovered() -> str:
    return (
        ":rotating_light: The provider's answer to this change never reached rtcops (a restart, or an answer lost on "
        "the way), so rtcops sent it again to find out."
    )


def undeliverable(change: ChangeResult, channel: str, error: str) -> str:
    where = f"<#{channel}>" if channel[:1] in ("C", "G") else "that conversation"
    state = (
        "it was cancelled, since nobody there could approve it"
        if change.state == ChangeState.CANCELLED
        else (f"it is {state_words(change.state)}")
    )
    return (
        f":warning: Your change #{change.request_id} on *{change.alias}* could not be posted in {where} "
        f"(`{escape(error)}`): {state}. Invite @rtcops to the channel (`/invite @rtcops`), or use /rtc where it is."
    )


def notify_line(change: ChangeResult, link: str | None) -> str:
    mark = STATE_EMOJI[change.state] if change.state.verdict else ":red_circle:"
    detail = (
        f"applied v{change.result_version}, RequestId `{escape(change.provider_request_id or 'none')}`"
        if change.state == ChangeState.APPLIED
        else f"{change.state.words}: `{escape(change.error_code or 'error')}`" + (" (task gone)" if change.gone else "")
    )
    where = f" · <{link}|thread>" if link else ""
    head = f"{mark} *{change.alias}* {change.kind} change #{change.request_id} by {who(change.requester)}"
    return clip(f"{head}: {detail}{where}", 3000)


# --- listings ---------------------------------------------------------------------------------------


def _task_line(task: TaskInfo) -> str:
    ids = " ".join(f"{k}={escape(v)}" for k, v in task.identifiers.items())
    tags = f" · tags {escape(', '.join(task.tags))}" if task.tags else ""
    lock = f" · :lock: request #{task.open_request_id}" if task.open_request_id else ""
    return f"*{task.alias}* ({task.provider}) v{task.version} · {ids}{tags}{lock}"


def task_list(tasks: Sequence[TaskInfo], states: dict[str, str] | None = None) -> list[dict[str, Any]]:
    if not tasks:
        return text_reply("No tasks you may see. An admin adds them with `/rtc task add …`.")
    lines = [_task_line(t) + (f" · {escape(states[t.alias])}" if states and t.alias in states else "") for t in tasks]
    return fit_message([_section("*Tasks*"), *(_section(lines_text(chunk, bullet="")) for chunk in _chunks(lines, 10))])


def task_page(found: TaskPage) -> list[dict[str, Any]]:
    """One page of `/rtc tasks`, saying what it leaves out and how to see it."""
    if not found.total:
        where = f" in {escape(found.selector)}" if found.selector else ""
        return text_reply(f"No tasks you may see{where}. An admin adds them with `/rtc task add …`.")
    tasks_ = [s.task for s in found.statuses]
    page = task_list(tasks_, {s.task.alias: s.provider.state for s in found.statuses})
    if found.pages > 1:
        selector = f"{found.selector} " if found.selector else ""
        nxt = f" · next: `/rtc tasks {selector}page {found.page + 1}`" if found.page < found.pages else ""
        note = f"Page {found.page} of {found.pages} ({found.total} tasks){nxt}"
        page = fit_message([*(_as_block(b) for b in page[: MESSAGE_BLOCKS - 1]), _context(escape(note))])
    return page


def _as_block(data: dict[str, Any]) -> Block:
    parsed = Block.parse(data)
    assert parsed is not None
    return parsed


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def task_status(status: TaskStatus) -> list[dict[str, Any]]:
    p = status.provider
    said = p.state
    if p.health is not None and p.health.condition == Condition.NOT_OBSERVABLE:
        said = f"not observable: {p.health.words}"
    head = f"*{status.task.alias}* ({status.task.provider}) · provider says *{escape(said)}*"
    if p.request_id:
        head += f" · RequestId `{escape(p.request_id)}`"
    blocks: list[Block] = [_section(head)]
    if status.watch is not None:
        blocks.append(_context(watch_words(status.watch)))
    if p.error:
        blocks.append(_section(f":warning: {escape(p.error)}"))
    if status.summary_lines:
        source = "in force" if p.in_force is not None else "last applied through rtcops"
        blocks.append(
            _section(f"*Version {status.task.version}, {source}*\n" + lines_text([escape(line) for line in status.summary_lines]))
        )
    else:
        blocks.append(_section(f"*Version {status.task.version}*: no configuration applied through rtcops yet"))
    if p.gone or p.state.lower().startswith("notexist"):
        blocks.append(_context("The provider no longer knows this task: register it again once it runs."))
    blocks.append(_context(f"The whole configuration as JSON: `/rtc status {status.task.alias} json`"))
    if status.drift_lines:
        blocks.append(_section("*Changed outside rtcops*\n" + lines_text([escape(line) for line in status.drift_lines])))
    return fit_message(blocks)


def history(h: History) -> list[dict[str, Any]]:
    versions = [
        f"v{v.version} · {when(v.applied_at)} · {who(v.applied_by)}"
        + (f" · request #{v.change_request_id}" if v.change_request_id else "")
        + (f" · {escape(v.note)}" if v.note else "")
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
    head = f"{task}#{c.request_id} {c.kind.value} · {c.state.words}{outcome} · {who(c.requester)} · {when(c.created_at)}"
    return f"{head} · {escape(clip(c.summary, 200))}{rid}{err}"


_MAY = {"admin": "administer", "approver": "approve", "operator": "propose", "viewer": "view"}


def who_may(alias: str, people: Sequence[Access]) -> list[dict[str, Any]]:
    """Who may act on a task, grouped by what they may do (each role includes the ones below it)."""
    blocks_: list[Block] = [_section(f"*Who may act on {escape(alias)}*")]
    for role, verb in _MAY.items():
        holders = [p for p in people if p.role == role]
        if not holders:
            continue
        names = [
            mention(p.subject_type, p.subject_id)
            + (" (RTCOPS_ADMIN_USERS)" if p.bootstrap else f" via {escape(p.scope)}")
            + (f" until {when(p.expires_at)}" if p.expires_at else "")
            for p in holders
        ]
        blocks_.append(_section(f"*May {verb}* ({role})\n" + lines_text(names)))
    if len(blocks_) == 1:
        blocks_.append(_context("Nobody holds a role on this task yet: an admin grants one with `/rtc grant`."))
    return fit_message(blocks_)


def policy(task: TaskInfo, *, changed_by: str | None = None) -> list[dict[str, Any]]:
    needs = [touch.value for touch, required in task.policy.items() if required]
    free = [touch.value for touch, required in task.policy.items() if not required]
    head = f"*{escape(task.alias)}*: changes to {', '.join(needs) or 'nothing'} need a second person's approval"
    lines = [head, f"applied at once: {', '.join(free) or 'nothing'}"]
    lines.append(
        "break-glass (`now reason=…`): "
        + ("*on*: an approver may apply a change at once, loudly" if task.break_glass else "*off*: every change waits")
    )
    if changed_by:
        lines.append(f"Set by {who(changed_by)}; audited.")
    example = f"`/rtc policy {escape(task.alias)} approval={','.join(needs) or 'none'}`"
    return fit_message([_section("\n".join(lines)), _context(f"Change it with {example}")])


def grant_list(grants: Sequence[GrantInfo]) -> list[dict[str, Any]]:
    lines = []
    for g in grants:
        subject = mention(g.subject_type, g.subject_id)
        expiry = f" · until {when(g.expires_at)}" if g.expires_at else ""
        origin = " · from RTCOPS_ADMIN_USERS" if g.bootstrap else f" · by {who(g.granted_by)}"
        lines.append(f"{subject} *{g.role}* on {g.scope}{expiry}{origin}")
    return fit_message([_section("*Grants*\n" + lines_text(lines))])


# --- modals -----------------------------------------------------------------------------------------


def loading_modal(title: str) -> dict[str, Any]:
    return fit_view(
        View(
            type="modal",
            callback_id=EDITOR,
            title=clip(title, 24),
            close="Cancel",
            blocks=[_section(":hourglass_flowing_sand: Loading…")],
        )
    )


def notice_modal(title: str, text: str) -> dict[str, Any]:
    return fit_view(View(type="modal", title=clip(title, 24), close="Close", blocks=[_section(text)]))


@dataclass(frozen=True)
class EditorMeta:
    """What an editor view carries in private_metadata: the task, the channel it was opened from, which
    target command it edits, and the few values its check needs without the store (a canvas size)."""

    alias: str
    channel: str | None
    verb: str
    context: Mapping[str, str]


def editor_metadata(meta: EditorMeta) -> str:
    data = {"a": meta.alias, "c": meta.channel, "v": meta.verb, "x": dict(meta.context)}
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(text) > 3000:
        raise ValueError("editor metadata over Slack's 3000 characters")
    return text


def parse_editor_metadata(text: str) -> EditorMeta | None:
    """None for anything but what editor_metadata wrote (an editor opened by an older version, say)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("a"), str) or not isinstance(data.get("v"), str):
        return None
    channel, context = data.get("c"), data.get("x")
    if (channel is not None and not isinstance(channel, str)) or not isinstance(context, dict):
        return None
    return EditorMeta(data["a"], channel, data["v"], {str(k): str(v) for k, v in context.items()})


def _input(field: Field) -> InputBlock:
    element: Any
    if field.kind in ("select", "radio"):
        options = [
            Option(value=c.value, text=clip(c.label, 75), description=clip(c.description, 75) if c.description else None)
            for c in field.choices[:100]
        ]
        initial = next((o for o in options if o.value == field.initial), None)
        if field.kind == "select":
            element = StaticSelectElement(action_id="value", options=options, initial_option=initial)
        else:
            element = RadioButtonsElement(action_id="value", options=options, initial_option=initial)
    else:
        element = PlainTextInputElement(
            action_id="value",
            initial_value=clip(field.initial, 3000) if field.initial else None,
            multiline=(field.kind == "multiline") or None,
            placeholder=clip(field.placeholder, 150) if field.placeholder else None,
        )
    return InputBlock(
        block_id=field.id,
        label=clip(field.label, 2000),
        element=element,
        optional=field.optional,
        hint=clip(field.hint, 2000) if field.hint else None,
    )


def editor_modal(editor: Editor, alias: str, channel: str | None) -> dict[str, Any]:
    """Any target's editor. Every text the editor shows is escaped: it may hold stream ids people typed."""
    view_blocks: list[Block] = [ContextBlock(elements=[_md(escape(editor.intro))])]
    if editor.problems:
        view_blocks.append(_section(":warning: " + lines_text([escape(p) for p in editor.problems], bullet="")))
    seen: set[str] = set()
    for item in editor.items:
        if len(view_blocks) >= VIEW_BLOCKS - 1:
            break
        if isinstance(item, Heading):
            view_blocks.append(HeaderBlock(text=clip(item.text, 150)))
        elif isinstance(item, Note):
            view_blocks.append(_context(escape(item.text)))
        elif item.id not in seen:
            seen.add(item.id)
            view_blocks.append(_input(item))
    meta = EditorMeta(alias, channel, editor.verb, editor.context)
    return fit_view(
        View(
            type="modal",
            callback_id=EDITOR,
            private_metadata=editor_metadata(meta),
            title=clip(editor.title, 24),
            submit="Propose",
            close="Cancel",
            blocks=view_blocks,
        )
    )


def task_added(added: TaskAdded) -> str:
    note = {
        BaselineSource.PROVIDER: "configuration read from the provider",
        BaselineSource.GIVEN: "configuration as given",
        BaselineSource.NONE: "no baseline yet",
    }
    text = (
        f":white_check_mark: Task *{added.task.alias}* ({added.task.provider}) registered, version {added.task.version}; "
        f"{note.get(added.baseline_source, added.baseline_source.value)}."
    )
    for warning in added.warnings:
        text += f"\n:warning: {escape(warning)}"
    return text


# --- App Home ---------------------------------------------------------------------------------------


def _open_line(c: ChangeResult) -> str:
    link = f" · <{c.link}|thread>" if c.link else ""
    return f"*{c.alias}* #{c.request_id} · {state_words(c.state)} · {escape(clip(c.summary, 200))}{link}"


HOME_WAITING = 15
HOME_TASKS = 30


def home_view(
    *,
    waiting: Sequence[ChangeResult],
    mine: Sequence[ChangeResult],
    tasks: Sequence[TaskInfo],
    recent: Sequence[ChangeSummary],
    incidents: Sequence[IncidentView] = (),
    watching: Mapping[str, WatchInfo] | None = None,
) -> dict[str, Any]:
    """Open incidents first (what is broken on air matters before what waits for a decision), then approvals,
    own requests, tasks (with what the watcher knows of each) and the last changes."""
    blocks: list[Block] = [HeaderBlock(text="rtcops")]
    if incidents:
        blocks.append(_section("*Open incidents*"))
        blocks.append(_section(lines_text([incident_line(i) for i in incidents[:20]])))
        blocks.append(DividerBlock())
    blocks.append(_section("*Waiting for your approval*"))
    if not waiting:
        blocks.append(_context("Nothing waits for you."))
    for change in waiting[:HOME_WAITING]:
        blocks.append(
            _section(
                f"*{change.alias}* #{change.request_id} by {who(change.requester)}: {escape(clip(change.summary, 300))}\n"
                + lines_text([escape(line) for line in change.diff_lines], limit=1500)
            )
        )
        blocks.append(approval_buttons(change))
    if len(waiting) > HOME_WAITING:
        more = len(waiting) - HOME_WAITING
        blocks.append(_context(f"… {more} more waiting for you; `/rtc tasks` shows each task's open request."))
    blocks += [DividerBlock(), _section("*Your open requests*")]
    blocks.append(_section(lines_text([_open_line(c) for c in mine])))
    blocks += [DividerBlock(), _section("*Tasks you can see*")]
    seen = watching or {}
    lines = [_task_line(t) + (f" · {_watch_short(seen[t.alias])}" if t.alias in seen else "") for t in tasks[:HOME_TASKS]]
    blocks.append(_section(lines_text(lines)))
    if len(tasks) > HOME_TASKS:
        blocks.append(_context(f"… {len(tasks) - HOME_TASKS} more: `/rtc tasks page 2` lists them, 20 a page."))
    blocks += [DividerBlock(), _section("*Last ten changes*")]
    blocks.append(_section(lines_text([_change_summary_line(c, with_alias=True) for c in recent[:10]])))
    return fit_view(View(type="home", blocks=blocks))


# --- incidents ------------------------------------------------------------------------------------------

_INCIDENT_MARK = {
    IncidentKind.RECONNECTING: ":large_orange_circle:",
    IncidentKind.FAILED: ":red_circle:",
    IncidentKind.ENDED: ":black_circle:",
    IncidentKind.DRIFT: ":twisted_rightwards_arrows:",
}
_INCIDENT_WHAT = {
    IncidentKind.RECONNECTING: "reconnecting for too long",
    IncidentKind.FAILED: "failed",
    IncidentKind.ENDED: "no longer running",
    IncidentKind.DRIFT: "configuration changed outside rtcops",
}
_WATCH_MARK = {
    Condition.OK: ":large_green_circle:",
    Condition.RECONNECTING: ":large_orange_circle:",
    Condition.FAILED: ":red_circle:",
    Condition.ENDED: ":black_circle:",
    Condition.NOT_OBSERVABLE: ":eye:",
    Condition.UNKNOWN: ":grey_question:",
}


def duration(seconds: float) -> str:
    """"2 min 13 s", "45 s", "1 h 5 min"."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes, rest = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def incident_title(v: IncidentView) -> str:
    what = _INCIDENT_WHAT[v.kind]
    if v.state == IncidentState.RECOVERED and v.recovered_at is not None:
        return f":large_green_circle: {v.alias}: recovered after {duration((v.recovered_at - v.since).total_seconds())}"
    if v.state == IncidentState.CLOSED:
        return f":white_circle: {v.alias}: {what} (closed)"
    return f"{_INCIDENT_MARK[v.kind]} {v.alias}: {what}"


def incident_fallback(v: IncidentView) -> str:
    return clip(f"{incident_title(v)} · incident #{v.id}", 300)


def _version_words(v: IncidentView) -> str:
    if v.version < 1:
        return "no version applied through rtcops yet"
    text = f"version {v.version}"
    if v.version_at is not None:
        text += f", applied {when(v.version_at)} by {who(v.version_by)}"
    if v.version_note:
        text += f" ({escape(clip(v.version_note, 200))})"
    return text


def incident_message(v: IncidentView) -> list[dict[str, Any]]:
    """The one message of an incident: what happened, since when, what was on air, who acknowledged or muted it;
    buttons while it is open. Every word the provider or a person chose is escaped."""
    what = f"*{escape(v.title)}* `{v.alias}`: {escape(v.words)}\nSince {when(v.since)}"
    if v.flaps:
        what += f" · went bad again {v.flaps} time{'s' if v.flaps > 1 else ''} soon after recovering"
    blocks: list[Block] = [_section(f"*{incident_title(v)}*"), _section(what)]
    if v.kind == IncidentKind.DRIFT:
        blocks.append(_section(f"*Last applied through rtcops:* {_version_words(v)}"))
        head = "*On air instead*" if v.state == IncidentState.OPEN else "*What was on air instead*"
        blocks.append(_section(f"{head}\n" + lines_text([escape(line) for line in v.diff_lines], limit=TEXT_CHARS - 40)))
    else:
        blocks.append(_section(f"*On air:* {_version_words(v)}"))
    notes = [f"incident #{v.id}"]
    if v.acked_by is not None:
        notes.append(f":eyes: acknowledged by {who(v.acked_by)}" + (f" {when(v.acked_at)}" if v.acked_at else ""))
    if v.muted_until is not None and v.muted_until > v.opened_at and v.state == IncidentState.OPEN:
        notes.append(f":mute: alerts on {v.alias} muted by {who(v.muted_by)} until {when(v.muted_until)}")
    if v.resolution:
        notes.append(escape(clip(v.resolution, 300)))
    blocks.append(_context(" · ".join(notes)))
    if v.state == IncidentState.OPEN:
        blocks.append(incident_buttons(v))
    return fit_message(blocks)


def incident_buttons(v: IncidentView) -> ActionsBlock:
    value = str(v.id)
    elements: list[ButtonElement] = []
    if v.acked_by is None:
        elements.append(ButtonElement(text="Acknowledge", action_id=INCIDENT_ACK, value=value, style="primary"))
    elements.append(ButtonElement(text="Mute 1 h", action_id=INCIDENT_MUTE, value=value))
    if v.kind == IncidentKind.DRIFT:
        if v.version >= 1:
            elements.append(
                ButtonElement(
                    text=f"Restore v{v.version}",
                    action_id=INCIDENT_RESTORE,
                    value=f"{v.id}:{v.version}",
                    confirm=ConfirmObject(
                        title="Propose restoring?",
                        text=PlainTextObject(text=clip(f"Proposes rolling {v.alias} back to version {v.version}.", 300)),
                        confirm="Propose",
                        deny="Back",
                    ),
                )
            )
        elements.append(
            ButtonElement(
                text="Accept as new version",
                action_id=INCIDENT_ACCEPT,
                value=value,
                confirm=ConfirmObject(
                    title="Accept what is on air?",
                    text=PlainTextObject(
                        text=clip(f"Records what is in force on {v.alias} as version {v.version + 1}; audited.", 300)
                    ),
                    confirm="Accept",
                    deny="Back",
                ),
            )
        )
    return ActionsBlock(block_id=f"incident_{v.id}", elements=elements)


def incident_line(v: IncidentView) -> str:
    link = f" · <{v.link}|message>" if v.link else ""
    ack = f" · acknowledged by {who(v.acked_by)}" if v.acked_by else ""
    return f"{_INCIDENT_MARK[v.kind]} *{v.alias}* #{v.id} · {escape(clip(v.words, 200))} · since {when(v.since)}{ack}{link}"


def incident_list(incidents: Sequence[IncidentView]) -> list[dict[str, Any]]:
    if not incidents:
        return text_reply(":large_green_circle: No open incidents on the tasks you can see.")
    lines = [incident_line(v) for v in incidents]
    chunks = [_section(lines_text(chunk, bullet="")) for chunk in _chunks(lines, 10)]
    return fit_message([_section(f"*Open incidents* ({len(incidents)})"), *chunks])


def _watch_short(w: WatchInfo) -> str:
    if not w.enabled:
        return ":zzz: not watched"
    return f"{_WATCH_MARK[w.condition]} {w.condition.words}"


def watch_words(w: WatchInfo) -> str:
    """One line on what the watcher knows of a task, for `/rtc status` and `/rtc watch`."""
    if not w.enabled:
        return f":zzz: {w.alias} is not watched (`/rtc watch {w.alias} on`)"
    text = f":eyes: watched · {_WATCH_MARK[w.condition]} {w.condition.words}"
    if w.words and w.condition != Condition.UNKNOWN:
        text += f": {escape(clip(w.words, 300))}"
    if w.since is not None and w.condition not in (Condition.UNKNOWN,):
        text += f" since {when(w.since)}"
    if w.open_incidents:
        text += f" · {w.open_incidents} open incident{'s' if w.open_incidents > 1 else ''} (`/rtc incidents`)"
    return text
