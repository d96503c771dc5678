"""The /rtc grammar: text in, one typed command out, or a UsageError that carries the right usage line.

HELP is the user-facing contract from ../shared/design.md, verbatim; a test keeps the two identical.
Parsing is pure and fast, so it runs before the acknowledgement and a malformed command is answered in
the acknowledgement itself. Slack sends mentions escaped (the manifest sets should_escape), but people
also paste bare IDs, so both forms are accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from bot.services.errors import BadInput
from bot.services.grants import Subject
from bot.services.grants import parse_subject as services_subject
from bot.services.permissions import Role, parse_scope

HELP = """\
/rtc help
/rtc tasks                                              tasks you may see, with provider state
/rtc task add volcengine <alias> <AppId> <RoomId> <TaskId> [canvas=WxH] [channel=#c] [tags=a,b]
/rtc task add tencent <alias> <SdkAppId> <TaskId> [region=ap-singapore] [site=intl|china] [channel=#c] [tags=a,b]
/rtc task remove <alias>
/rtc status <alias>                                     provider status and the configuration in force
/rtc layout <alias>                                     opens the layout editor
/rtc layout <alias> <preset> <user>[,<user>…]           proposes a preset (side-by-side, pip, grid, speaker, …)
/rtc ingest <alias>                                     opens the ingest editor
/rtc ingest <alias> [url=<URL>] [volume=<n>] [pause|resume]
/rtc history <alias>                                    versions and changes, newest first
/rtc rollback <alias> <version>                         proposes going back to an earlier version
/rtc grant <@user|@group> <viewer|operator|approver|admin> [task:<alias>|tag:<t>|provider:<p>]
/rtc revoke <@user|@group> <role> [scope]
/rtc grants [@user]
/rtc unlock <alias>"""


def usage(*words: str) -> str:
    """The grammar lines for a subcommand (e.g. usage("task", "add")), without their descriptions."""
    prefix = "/rtc " + " ".join(words)
    lines = [re.split(r"\s{2,}", line)[0] for line in HELP.splitlines() if line == prefix or line.startswith(prefix + " ")]
    return "\n".join(lines)


class UsageError(ValueError):
    """The text does not fit the grammar; `usage` is what to show instead."""

    def __init__(self, problem: str, usage_text: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.usage = usage_text


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class ListTasks:
    pass


@dataclass(frozen=True)
class AddVolcengineTask:
    alias: str
    app_id: str
    room_id: str
    task_id: str
    canvas: tuple[int, int] | None = None
    channel: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddTencentTask:
    alias: str
    sdk_app_id: int
    task_id: str
    region: str | None = None
    site: Literal["intl", "china"] | None = None
    channel: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemoveTask:
    alias: str


@dataclass(frozen=True)
class Status:
    alias: str


@dataclass(frozen=True)
class OpenLayoutEditor:
    alias: str


@dataclass(frozen=True)
class ProposeLayout:
    alias: str
    preset: str
    streams: str  # "alice,bob:screen"; the layouts package owns its syntax
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenIngestEditor:
    alias: str


@dataclass(frozen=True)
class ProposeIngest:
    alias: str
    url: str | None = None
    volume: int | None = None
    pause: bool | None = None


@dataclass(frozen=True)
class History:
    alias: str


@dataclass(frozen=True)
class Rollback:
    alias: str
    version: int


@dataclass(frozen=True)
class Grant:
    subject: Subject
    role: str
    scope: str | None = None


@dataclass(frozen=True)
class Revoke:
    subject: Subject
    role: str
    scope: str | None = None


@dataclass(frozen=True)
class ListGrants:
    subject: Subject | None = None


@dataclass(frozen=True)
class Unlock:
    alias: str


Command = (
    Help
    | ListTasks
    | AddVolcengineTask
    | AddTencentTask
    | RemoveTask
    | Status
    | OpenLayoutEditor
    | ProposeLayout
    | OpenIngestEditor
    | ProposeIngest
    | History
    | Rollback
    | Grant
    | Revoke
    | ListGrants
    | Unlock
)

_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]{2,})(?:\|[^>]*)?>|([CG][A-Z0-9]{2,})")
_LINK = re.compile(r"<([^|>]+)(?:\|[^>]*)?>")


def _tokens(text: str) -> list[str]:
    # Slack may send non-breaking spaces from pasted text; they separate words like spaces do.
    return text.replace("\u00a0", " ").split()


def parse_subject(token: str, words: tuple[str, ...]) -> Subject:
    try:
        return services_subject(token)
    except BadInput as exc:
        raise UsageError(str(exc), usage(*words)) from None


def parse_channel(token: str, words: tuple[str, ...]) -> str:
    if m := _CHANNEL.fullmatch(token):
        return m.group(1) or m.group(2)
    problem = f"{token!r} is not a channel: pick it with #channel so Slack sends its ID, or give the ID (C…)"
    raise UsageError(problem, usage(*words))


def _alias(token: str, words: tuple[str, ...]) -> str:
    if not _ALIAS.fullmatch(token):
        raise UsageError(f"{token!r} is not a task alias (letters, digits, '_', '-', '.'; up to 64)", usage(*words))
    return token


def _unlink(value: str) -> str:
    """Slack wraps URLs it recognises as <url> or <url|label>; the URL itself is what was meant."""
    m = _LINK.fullmatch(value)
    return m.group(1) if m else value


def _options(tokens: list[str], allowed: set[str], words: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for tok in tokens:
        key, sep, value = tok.partition("=")
        if not sep or key not in allowed or not value:
            raise UsageError(f"unexpected {tok!r}", usage(*words))
        if key in out:
            raise UsageError(f"{key}= given twice", usage(*words))
        out[key] = value
    return out


def _tags(value: str | None) -> tuple[str, ...]:
    return tuple(t for t in (value or "").split(",") if t)


def _positive_int(value: str, what: str, words: tuple[str, ...]) -> int:
    if not value.isdigit() or int(value) < 1:
        raise UsageError(f"{what} must be a positive whole number, got {value!r}", usage(*words))
    return int(value)


def _arity(args: list[str], n: int, words: tuple[str, ...]) -> None:
    if len(args) < n:
        raise UsageError("missing arguments", usage(*words))


def _task_add(args: list[str]) -> Command:
    if not args or args[0] not in ("volcengine", "tencent"):
        raise UsageError("say which provider: volcengine or tencent", usage("task", "add"))
    provider = args[0]
    words = ("task", "add", provider)
    if provider == "volcengine":
        _arity(args, 5, words)
        opts = _options(args[5:], {"canvas", "channel", "tags"}, words)
        canvas = None
        if "canvas" in opts:
            m = re.fullmatch(r"(\d{1,5})[xX×](\d{1,5})", opts["canvas"])
            if not m:
                raise UsageError(f"canvas must look like 1280x720, got {opts['canvas']!r}", usage(*words))
            canvas = (int(m.group(1)), int(m.group(2)))
        return AddVolcengineTask(
            alias=_alias(args[1], words),
            app_id=args[2],
            room_id=args[3],
            task_id=args[4],
            canvas=canvas,
            channel=parse_channel(opts["channel"], words) if "channel" in opts else None,
            tags=_tags(opts.get("tags")),
        )
    _arity(args, 4, words)
    opts = _options(args[4:], {"region", "site", "channel", "tags"}, words)
    site = opts.get("site")
    if site is not None and site not in ("intl", "china"):
        raise UsageError(f"site must be intl or china, got {site!r}", usage(*words))
    return AddTencentTask(
        alias=_alias(args[1], words),
        sdk_app_id=_positive_int(args[2], "SdkAppId", words),
        task_id=args[3],
        region=opts.get("region"),
        site=site,  # type: ignore[arg-type]
        channel=parse_channel(opts["channel"], words) if "channel" in opts else None,
        tags=_tags(opts.get("tags")),
    )


def _layout(args: list[str]) -> Command:
    words = ("layout",)
    _arity(args, 1, words)
    alias = _alias(args[0], words)
    if len(args) == 1:
        return OpenLayoutEditor(alias)
    _arity(args, 3, words)
    opts = {}
    for tok in args[3:]:
        key, sep, value = tok.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"unexpected {tok!r}; preset options look like name=value", usage(*words))
        opts[key] = value
    return ProposeLayout(alias, args[1].lower(), args[2], opts)


def _ingest(args: list[str]) -> Command:
    words = ("ingest",)
    _arity(args, 1, words)
    alias = _alias(args[0], words)
    if len(args) == 1:
        return OpenIngestEditor(alias)
    url: str | None = None
    volume: int | None = None
    pause: bool | None = None
    for tok in args[1:]:
        low = tok.lower()
        if low in ("pause", "resume"):
            if pause is not None:
                raise UsageError("say pause or resume once", usage(*words))
            pause = low == "pause"
        elif low.startswith("url=") and url is None and len(tok) > 4:
            url = _unlink(tok[4:])
        elif low.startswith("volume=") and volume is None:
            raw = tok[7:]
            if not re.fullmatch(r"\d{1,6}", raw):
                raise UsageError(f"volume must be a whole number, got {raw!r}", usage(*words))
            volume = int(raw)
        else:
            raise UsageError(f"unexpected {tok!r}", usage(*words))
    return ProposeIngest(alias, url, volume, pause)


def _role(token: str, words: tuple[str, ...]) -> str:
    try:
        return Role.parse(token).label
    except BadInput as exc:
        raise UsageError(str(exc), usage(*words)) from None


def _scope(args: list[str], words: tuple[str, ...]) -> str | None:
    if not args:
        return None
    if len(args) > 1:
        raise UsageError(f"unexpected {' '.join(args[1:])!r}: give one scope", usage(*words))
    try:
        return parse_scope(args[0])
    except BadInput as exc:
        raise UsageError(str(exc), usage(*words)) from None


def _grant_like(name: str, args: list[str]) -> Command:
    words = (name,)
    _arity(args, 2, words)
    subject = parse_subject(args[0], words)
    role = _role(args[1], words)
    scope = _scope(args[2:], words)
    return Grant(subject, role, scope) if name == "grant" else Revoke(subject, role, scope)


def _one_alias(name: str, args: list[str], cls: type[RemoveTask | Status | History | Unlock], words: tuple[str, ...]) -> Command:
    if len(args) != 1:
        raise UsageError("give exactly one task alias", usage(*words))
    return cls(_alias(args[0], words))


def parse(text: str) -> Command:
    tokens = _tokens(text)
    if not tokens:
        return Help()
    head, args = tokens[0].lower(), tokens[1:]
    if head == "help":
        return Help()
    if head == "tasks":
        if args:
            raise UsageError("tasks takes no arguments", usage("tasks"))
        return ListTasks()
    if head == "task":
        sub = args[0].lower() if args else ""
        if sub == "add":
            return _task_add(args[1:])
        if sub == "remove":
            return _one_alias("task", args[1:], RemoveTask, ("task", "remove"))
        raise UsageError("task needs add or remove", usage("task"))
    if head in ("status", "history", "unlock"):
        one: dict[str, type[Status | History | Unlock]] = {"status": Status, "history": History, "unlock": Unlock}
        return _one_alias(head, args, one[head], (head,))
    if head == "layout":
        return _layout(args)
    if head == "ingest":
        return _ingest(args)
    if head == "rollback":
        if len(args) != 2:
            raise UsageError("give a task alias and a version number", usage("rollback"))
        return Rollback(_alias(args[0], ("rollback",)), _positive_int(args[1].lstrip("vV"), "version", ("rollback",)))
    if head in ("grant", "revoke"):
        return _grant_like(head, args)
    if head == "grants":
        if len(args) > 1:
            raise UsageError("give at most one user", usage("grants"))
        return ListGrants(parse_subject(args[0], ("grants",)) if args else None)
    raise UsageError(f"unknown subcommand {tokens[0]!r}", HELP)
