"""The words every layer shares: what state a change is in, what made it, what it touches, where its
baseline came from, and which providers ship with rtcops.

They live below the store, the targets and the services so that the database column, the rule and the
renderer all speak the same closed vocabulary; a typo in a state becomes a type error, not a stuck request.
"""

from __future__ import annotations

from enum import StrEnum


class ChangeState(StrEnum):
    """The life of a change request. `docs/architecture.md` draws the transitions; `bot.store.change_requests`
    is the only code that moves a request from one state to another."""

    PENDING = "pending"
    APPROVED = "approved"
    APPLYING = "applying"
    APPLIED = "applied"
    FAILED = "failed"
    UNKNOWN = "unknown"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    STALE = "stale"

    @property
    def open(self) -> bool:
        """An open request holds its task's lock."""
        return self in OPEN_STATES

    @property
    def verdict(self) -> bool:
        """A state the provider call ended in (reported to the notification channel)."""
        return self in VERDICT_STATES

    @property
    def words(self) -> str:
        return _WORDS[self]


OPEN_STATES = frozenset({ChangeState.PENDING, ChangeState.APPROVED, ChangeState.APPLYING})
TERMINAL_STATES = frozenset(ChangeState) - OPEN_STATES
VERDICT_STATES = frozenset({ChangeState.APPLIED, ChangeState.FAILED, ChangeState.UNKNOWN})

_WORDS = {
    ChangeState.PENDING: "waiting for approval",
    ChangeState.APPROVED: "approved",
    ChangeState.APPLYING: "applying",
    ChangeState.APPLIED: "applied",
    ChangeState.FAILED: "failed",
    ChangeState.UNKNOWN: "outcome unknown",
    ChangeState.REJECTED: "rejected",
    ChangeState.CANCELLED: "cancelled",
    ChangeState.EXPIRED: "expired",
    ChangeState.STALE: "stale",
}


class ChangeKind(StrEnum):
    """What produced a change: a target's own command (layout, ingest), a provider-JSON patch, or a rollback."""

    LAYOUT = "layout"
    INGEST = "ingest"
    PATCH = "patch"
    ROLLBACK = "rollback"
    CUE = "cue"  # a rundown's cue: an absolute configuration, approved in advance with the rundown


class Touch(StrEnum):
    """A part of a task's configuration a change touches; the approval policy is written in these, so a
    generic patch or a rollback is classified by what it does, not by the command that made it."""

    LAYOUT = "layout"
    STREAMS = "streams"
    ENCODE = "encode"
    SPATIAL = "spatial"
    URL = "url"
    PLAYBACK = "playback"
    VOLUME = "volume"
    PAUSE = "pause"


class BaselineSource(StrEnum):
    """Where the configuration a change was merged onto came from."""

    PROVIDER = "provider"  # read from the provider just now
    STORE = "store"  # the last version applied through rtcops
    GIVEN = "given"  # stated by the admin at registration
    NONE = "none"  # nothing known yet


class Provider(StrEnum):
    """The providers rtcops ships targets for. The target registry is keyed by these names; a test may add
    its own target under another name."""

    VOLCENGINE = "volcengine"
    TENCENT = "tencent"


class NoticeKind(StrEnum):
    """What the bot has to tell people about a change, each delivered once, in order, from the store.

    Kinds, not words: the Slack layer chooses the words when it delivers one, from the change as it then is."""

    POST = "post"  # the request message, which opens the thread
    PREVIEW = "preview"  # the before/after picture, into the thread
    WAITING = "waiting"  # who may approve it, until when
    DECIDED = "decided"  # approved, rejected, cancelled or unlocked, by whom
    ENDED = "ended"  # expired or stale, and why
    APPLYING = "applying"
    RESENDING = "resending"  # no definite answer yet: sending it again to find out
    RECOVERED = "recovered"  # found unsettled after a restart: sent again to find out
    OUTCOME = "outcome"  # the verdict, into the thread
    PARENT = "parent"  # the request message shows the state the change is in now
    NOTIFY = "notify"  # one line in the task's notification channel
    UNDELIVERABLE = "undeliverable"  # the requester, told privately that the request message could not be posted
    AUDIT_WEBHOOK = "audit_webhook"  # an audit event, posted to RTCOPS_AUDIT_WEBHOOK (not Slack: bot.services.audit_webhook)
    INCIDENT = "incident"  # an incident's message, posted once in the task's notification channel
    INCIDENT_UPDATE = "incident_update"  # that message shows the incident as it now stands (acked, recovered, …)
    INCIDENT_PREVIEW = "incident_preview"  # a drift's before/after picture, into that message's thread

    # a bulk change (one request message for many tasks; lane bulk:<id>, the bulk's id in the payload)
    BULK_POST = "bulk_post"  # the bulk's request message, which opens its thread
    BULK_PREVIEW = "bulk_preview"  # one picture per distinct resulting layout, into the thread
    BULK_WAITING = "bulk_waiting"  # who may approve it, until when
    BULK_DECIDED = "bulk_decided"  # approved, rejected or cancelled, by whom; the parent shows it
    BULK_PROGRESS = "bulk_progress"  # per-task outcomes (payload ids), batched into the thread; the progress bar
    BULK_NOTIFY = "bulk_notify"  # one line per notification channel once every task has its verdict
    # issue 14: reminders, break-glass, schedules (lane of what they are about) and rundowns (lane rundown:<id>)
    REMINDER = "reminder"  # once, at half a waiting request's lifetime: the approvers again
    BULK_REMINDER = "bulk_reminder"
    BREAK_GLASS = "break_glass"  # loud, in the notification channel: applied without a second person, and why
    BULK_BREAK_GLASS = "bulk_break_glass"
    SCHEDULE_SETTLED = "schedule_settled"  # a schedule fired or was missed, in the thread of what it was for
    RUNDOWN_POST = "rundown_post"  # the rundown message (cues, window; the approval buttons, later Next cue)
    RUNDOWN_DECIDED = "rundown_decided"  # approved (armed), rejected, disarmed by an edit: thread, and redraw
    RUNDOWN_CUE = "rundown_cue"  # a cue fired: thread line (what was overwritten), redraw, next cue's picture
    RUNDOWN_REMINDER = "rundown_reminder"
    BULK_UNDELIVERABLE = "bulk_undeliverable"  # the requester, told privately that the request message could not be posted



class Condition(StrEnum):
    """How a watched task is doing, in the words every target maps its provider's signals onto
    (`bot.targets.base.Health`). The watcher opens incidents on these, never on a provider's own codes."""

    OK = "ok"
    RECONNECTING = "reconnecting"  # trying again after a drop (a push reconnecting, an ingest retrying its source)
    FAILED = "failed"
    ENDED = "ended"  # the task is no longer running: ended, stopped, gone
    NOT_OBSERVABLE = "not_observable"  # the provider cannot be asked about it (never an outage)
    UNKNOWN = "unknown"  # not observed yet, or the provider could not be reached just now

    @property
    def bad(self) -> bool:
        return self in (Condition.RECONNECTING, Condition.FAILED, Condition.ENDED)

    @property
    def words(self) -> str:
        return _CONDITION_WORDS[self]


_CONDITION_WORDS = {
    Condition.OK: "healthy",
    Condition.RECONNECTING: "reconnecting",
    Condition.FAILED: "failed",
    Condition.ENDED: "ended",
    Condition.NOT_OBSERVABLE: "not observable",
    Condition.UNKNOWN: "not observed yet",
}


class IncidentKind(StrEnum):
    """What an incident is about. A task has at most one health incident (reconnecting, failed or ended: it
    takes the worst kind seen while it is open) and one drift incident at a time."""

    RECONNECTING = "reconnecting"
    FAILED = "failed"
    ENDED = "ended"
    DRIFT = "drift"  # the configuration in force differs from the last version applied through rtcops

    @property
    def severity(self) -> int:
        return {IncidentKind.RECONNECTING: 1, IncidentKind.FAILED: 2, IncidentKind.ENDED: 2, IncidentKind.DRIFT: 1}[self]


class IncidentState(StrEnum):
    """open: the task is still in trouble. recovered: it is well again, and going bad within the flap window
    reopens this same incident. closed: over for good (the window passed, watching was turned off, the task
    was removed)."""

    OPEN = "open"
    RECOVERED = "recovered"
    CLOSED = "closed"


class BulkState(StrEnum):
    """The decision on a bulk change; what each task's request did is that request's own state."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    STALE = "stale"


class BulkPurpose(StrEnum):
    """What made a bulk change: a command on a selector, a scene, or a button on an earlier bulk."""

    CHANGE = "change"
    SCENE = "scene"
    RETRY = "retry"  # Retry failed: the tasks of an earlier bulk that got no applied verdict
    ROLLBACK = "rollback"  # Roll back applied: the tasks an earlier bulk applied, to their versions before it
    CUE = "cue"  # one cue of an armed rundown, fired by an operator or at its time


class RundownState(StrEnum):
    """A rundown is edited as a draft, approved as a whole for a window (armed), and disarmed by any edit."""

    DRAFT = "draft"
    PENDING = "pending"  # waiting for someone else to approve it, with its cues' payloads and window bound
    ARMED = "armed"

    @property
    def words(self) -> str:
        return {"draft": "draft (not armed)", "pending": "waiting for approval", "armed": "armed"}[self.value]


class ScheduleState(StrEnum):
    """A promise to do something at a time: kept once (fired), or said not kept (missed), or withdrawn."""

    WAITING = "waiting"
    FIRED = "fired"
    MISSED = "missed"
    CANCELLED = "cancelled"
