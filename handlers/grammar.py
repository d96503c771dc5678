"""The /rtc grammar: text in, one typed command out, or a UsageError that carries the right usage line.

The subcommands that make a change (`layout`, `ingest`) and the task registrations belong to the provider
targets: their usage lines and parsers come from `bot.services.catalogue`, so a new target brings its own
commands. `HELP` is the user-facing contract; `docs/rtc-commands.txt` holds the same text and a test keeps
the two identical.

Parsing is pure and fast, so it runs before the acknowledgement and a malformed command is answered in the
acknowledgement itself. Slack sends the text escaped: `&`, `<` and `>` typed by a person arrive as `&amp;`,
`&lt;` and `&gt;`, and a URL it recognises arrives wrapped as `<url>` or `<url|label>`. Both are undone here,
once, so every later layer sees what the person typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from bot import names
from bot.services import audit, catalogue, selectors
from bot.services.errors import BadInput
from bot.services.grants import Subject
from bot.services.grants import parse_subject as services_subject
from bot.services.permissions import Role, parse_scope
from bot.services.policy import parse_touch

_HEAD = """\
/rtc help
/rtc tasks [tag:<t>|provider:<p>] [page <n>]            tasks you may see, with provider state"""
_TASKS = """\
/rtc task remove <alias>
/rtc status <alias> [json]                              provider status and the configuration in force
/rtc incidents                                          open incidents (outages, drift) on tasks you may see
/rtc watch <alias> on|off                               whether rtcops watches a task for outages and drift"""
_TAIL = """\
/rtc history <alias>                                    versions and changes, newest first
/rtc rollback <alias> <version>                         proposes going back to an earlier version
/rtc grant <@user|@group> <viewer|operator|approver|admin> [task:<alias>|tag:<t>|provider:<p>] [until=YYYY-MM-DD]
/rtc revoke <@user|@group> <role> [scope]
/rtc grants [@user]
/rtc who <alias>                                        who may view, propose and approve changes on a task
/rtc policy <alias> [approval=<kind>[,<kind>…]|none] [breakglass=on|off]
                                                        shows or sets which changes need approval, and break-glass
/rtc audit <alias|tag:<t>> [since=<7d|2030-01-31>]      the audit trail as a CSV file, sent to you privately
/rtc unlock <alias>"""

_SHOW = """\
/rtc <change> … at=<HH:MM>                              any change, scene apply or cue at a time (your Slack time zone)
/rtc <change> … now reason="<why>"                      break-glass: applies at once, no second person (approvers)
/rtc schedule                                           what is scheduled, with ids
/rtc schedule cancel <id>
/rtc rundown create <name>
/rtc rundown add <name> [<label>:] <step>[; <step>…]    a cue; step: <verb> <alias|selector> …, or scene <name> […]
/rtc rundown remove <name> <cue>
/rtc rundown edit <name>                                edits the cue list in a modal
/rtc rundown show <name>
/rtc rundown list
/rtc rundown arm <name> <HH:MM-HH:MM>                   asks for one approval of every cue, armed in that window
/rtc rundown delete <name>
/rtc cue <name> next|<n> [at=<HH:MM>]                   fires a cue of an armed rundown, without another approval"""


_SCENES = """\
/rtc scene save <alias> <name>                          saves what a task runs now as a scene (a new version if it exists)
/rtc scene save <selector> <name> [<verb>] <words…>     saves a change for a set, e.g. scene save tag:semis match pip host,guest
/rtc scene show <name> [<version>]
/rtc scene list
/rtc scene delete <name>
/rtc scene apply <name> [<alias>|<selector>]            proposes a scene like any change, on its own task or set unless named"""


def _bulk_lines() -> list[str]:
    """Every change command takes a selector in place of the alias (grammar: `_verb`)."""
    verbs = "|".join(v.name for v in catalogue.verbs())
    head = f"/rtc {verbs} <selector> …"
    return [
        head.ljust(56) + "the same change on every task matched: one approval, a progress bar",
        " " * 56 + "<selector>: tag:<t>, provider:<p>, or <alias>,<alias>,…",
    ]


def help_text() -> str:
    """The whole grammar, with each target's registration and commands in registry order."""
    registrations = [
        f"/rtc task add {p.name} <alias> {p.registration_usage} [channel=#c] [tags=a,b]" for p in catalogue.providers()
    ]
    verbs = [line for v in catalogue.verbs() for line in v.usage]
    return "\n".join([_HEAD, *registrations, _TASKS, *verbs, *_bulk_lines(), _SCENES, _SHOW, _TAIL])


HELP = help_text()


def usage(*words: str) -> str:
    """The grammar lines for a subcommand (e.g. usage("task", "add")), without their descriptions."""
    prefix = "/rtc " + " ".join(words)
    lines = [re.split(r"\s{2,}", line)[0] for line in help_text().splitlines() if line == prefix or line.startswith(prefix + " ")]
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
    selector: str | None = None
    page: int = 1


@dataclass(frozen=True)
class AddTask:
    """Checked for form here; the task's target checks the ids and options themselves (one parser for Slack
    and the CLI), after the acknowledgement."""

    provider: str
    alias: str
    ids: tuple[str, ...]
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoveTask:
    alias: str


@dataclass(frozen=True)
class Status:
    alias: str
    as_json: bool = False


@dataclass(frozen=True)
class OpenEditor:
    verb: str
    alias: str


@dataclass(frozen=True)
class When:
    """`at=` as typed (read in the person's time zone after the acknowledgement), or break-glass's reason."""

    at: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class RundownCreate:
    name: str


@dataclass(frozen=True)
class RundownAdd:
    name: str
    cue: str


@dataclass(frozen=True)
class RundownRemove:
    name: str
    position: int


@dataclass(frozen=True)
class RundownEdit:
    name: str


@dataclass(frozen=True)
class RundownShow:
    name: str


@dataclass(frozen=True)
class RundownList:
    pass


@dataclass(frozen=True)
class RundownArm:
    name: str
    window: str


@dataclass(frozen=True)
class RundownDelete:
    name: str


@dataclass(frozen=True)
class FireCue:
    name: str
    which: str | int  # "next" or a position
    at: str | None = None


@dataclass(frozen=True)
class ListSchedules:
    pass


@dataclass(frozen=True)
class CancelSchedule:
    schedule_id: int


@dataclass(frozen=True)
class Propose:
    verb: str
    alias: str
    change: catalogue.TargetChange
    when: When = field(default_factory=lambda: When())


@dataclass(frozen=True)
class ProposeBulk:
    """A change command on a selector; `text` is the command as typed, for the confirmation button to replay."""

    verb: str
    selector: str
    change: catalogue.TargetChange
    text: str = ""
    when: When = field(default_factory=lambda: When())


@dataclass(frozen=True)
class OpenBulkEditor:
    verb: str
    selector: str


@dataclass(frozen=True)
class SceneSave:
    where: str  # an alias (save what it runs) or a selector (save the words)
    name: str
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class SceneShow:
    name: str
    version: int | None = None


@dataclass(frozen=True)
class SceneList:
    pass


@dataclass(frozen=True)
class SceneDelete:
    name: str


@dataclass(frozen=True)
class SceneApply:
    name: str
    where: str | None = None
    text: str = ""
    when: When = field(default_factory=lambda: When())


@dataclass(frozen=True)
class History:
    alias: str


@dataclass(frozen=True)
class Rollback:
    alias: str
    version: int
    when: When = field(default_factory=lambda: When())


@dataclass(frozen=True)
class Grant:
    subject: Subject
    role: str
    scope: str | None = None
    until: datetime | None = None


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


@dataclass(frozen=True)
class Who:
    alias: str


@dataclass(frozen=True)
class Policy:
    alias: str
    approval: tuple[str, ...] | None = None  # None: leave as it is
    break_glass: bool | None = None

    @property
    def shows(self) -> bool:
        return self.approval is None and self.break_glass is None


@dataclass(frozen=True)
class Incidents:
    pass


@dataclass(frozen=True)
class Watch:
    alias: str
    on: bool


@dataclass(frozen=True)
class Audit:
    """One task's trail, or that of the tasks with a tag; `since` as typed (7d, a date, an ISO time)."""

    alias: str | None = None
    tag: str | None = None
    since: str | None = None


Command = (
    Help
    | ListTasks
    | AddTask
    | RemoveTask
    | Status
    | OpenEditor
    | Propose
    | History
    | Rollback
    | Grant
    | Revoke
    | ListGrants
    | Unlock
    | Who
    | Policy
    | Incidents
    | Watch
    | Audit
    | ProposeBulk
    | OpenBulkEditor
    | SceneSave
    | SceneShow
    | SceneList
    | SceneDelete
    | SceneApply
    | RundownCreate
    | RundownAdd
    | RundownRemove
    | RundownEdit
    | RundownShow
    | RundownList
    | RundownArm
    | RundownDelete
    | FireCue
    | ListSchedules
    | CancelSchedule
)

_LINK = re.compile(r"<([^|>]+)(?:\|[^>]*)?>")


def _unlink(value: str) -> str:
    """Slack wraps URLs it recognises as <url> or <url|label>; the URL itself is what was meant. Mentions and
    channels (<@U…>, <!subteam^…>, <#C…|name>) stay as they are: their parsers read the IDs out of them."""
    if value.startswith(("<@", "<!", "<#")):
        return value
    m = _LINK.fullmatch(value)
    return m.group(1) if m else value


def decode(token: str) -> str:
    """One word as the person typed it: Slack's link wrapping removed (`url=<https://…|label>`), then its
    HTML escaping (`&amp;`, `&lt;`, `&gt;`) undone."""
    key, sep, value = token.partition("=")
    token = f"{key}={_unlink(value)}" if sep and key else _unlink(token)
    return token.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _tokens(text: str) -> list[str]:
    # Slack may send non-breaking spaces from pasted text; they separate words like spaces do.
    return text.replace("\u00a0", " ").split()


def parse_subject(token: str, words: tuple[str, ...]) -> Subject:
    try:
        return services_subject(token)
    except BadInput as exc:
        raise UsageError(str(exc), usage(*words)) from None


def _alias(token: str, words: tuple[str, ...]) -> str:
    try:
        return names.alias(token)
    except names.InvalidName as exc:
        raise UsageError(str(exc), usage(*words)) from None


def _positive_int(value: str, what: str, words: tuple[str, ...]) -> int:
    if not value.isdigit() or int(value) < 1 or len(value) > 9:
        raise UsageError(f"{what} must be a positive whole number, got {value!r}", usage(*words))
    return int(value)


def _arity(args: list[str], n: int, words: tuple[str, ...]) -> None:
    if len(args) < n:
        raise UsageError("missing arguments", usage(*words))


def _task_add(args: list[str]) -> Command:
    providers = [p.name for p in catalogue.providers()]
    if not args or args[0].lower() not in providers:
        raise UsageError(f"say which provider: {' or '.join(providers)}", usage("task", "add"))
    provider = args[0].lower()
    words = ("task", "add", provider)
    _arity(args, 2, words)
    alias = _alias(args[1], words)
    ids: list[str] = []
    options: dict[str, str] = {}
    for token in (decode(t) for t in args[2:]):
        key, sep, value = token.partition("=")
        if sep and key:
            if not value:
                raise UsageError(f"{key}= needs a value", usage(*words))
            if key.lower() in options:
                raise UsageError(f"{key}= given twice", usage(*words))
            options[key.lower()] = value
        elif options:
            raise UsageError(f"unexpected {token!r}: the ids come first, then options as name=value", usage(*words))
        else:
            ids.append(token)
    if not ids:
        raise UsageError("missing the task's ids", usage(*words))
    return AddTask(provider, alias, tuple(ids), options)


def _selector(token: str, words: tuple[str, ...]) -> str:
    try:
        return selectors.parse(token).text
    except BadInput as exc:
        raise UsageError(str(exc), usage(*words)) from None


def _verb(head: str, args: list[str], text: str = "", when: When | None = None) -> Command:
    words = (head,)
    when = when or When()
    _arity(args, 1, words)
    if selectors.is_selector(args[0]):
        selector = _selector(args[0], words)
        if len(args) == 1:
            _no_when(when, words)
            return OpenBulkEditor(head, selector)
        try:
            return ProposeBulk(head, selector, catalogue.parse_change(head, [decode(a) for a in args[1:]]), text, when)
        except BadInput as exc:
            raise UsageError(str(exc), usage(*words)) from None
    alias = _alias(args[0], words)
    if len(args) == 1:
        _no_when(when, words)
        return OpenEditor(head, alias)
    try:
        return Propose(head, alias, catalogue.parse_change(head, [decode(a) for a in args[1:]]), when)
    except BadInput as exc:
        raise UsageError(str(exc), usage(*words)) from None


_REASON = re.compile(r'(?:^|\s)reason=(?:"([^"]*)"|“([^”]*)”|(\S+))', re.IGNORECASE)
_AT_SHAPE = re.compile(r"(\d{4}-\d{2}-\d{2}[T ])?\d{1,2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?", re.IGNORECASE)


def _take_reason(text: str) -> tuple[str, str | None]:
    """`reason="approver unreachable"` (straight or curly quotes, or one word), taken out of the text."""
    found = list(_REASON.finditer(text))
    if not found:
        return text, None
    if len(found) > 1:
        raise UsageError("reason= given twice", _SHOW)
    m = found[0]
    reason = next(g for g in m.groups() if g is not None)
    return text[: m.start()] + " " + text[m.end() :], decode(reason)


def _when(args: list[str], reason: str | None, words: tuple[str, ...]) -> tuple[list[str], When]:
    """Takes `at=` and break-glass's trailing `now` off a change command's words."""
    ats = [a for a in args if a.lower().startswith("at=")]
    rest = [a for a in args if not a.lower().startswith("at=")]
    if len(ats) > 1:
        raise UsageError("at= given twice", usage(*words))
    at = ats[0].partition("=")[2] if ats else None
    clock = re.search(r"(\d{1,2}):(\d{2})", at or "")
    if at is not None and (not _AT_SHAPE.fullmatch(at) or clock is None or int(clock[1]) > 23 or int(clock[2]) > 59):
        raise UsageError(f"at= takes a time like 20:00 or 2026-12-24T20:00, got {at!r}", usage(*words))
    if reason is not None:
        if not rest or rest[-1].lower() != "now":
            raise UsageError('break-glass ends in: now reason="why it cannot wait"', _SHOW)
        rest = rest[:-1]
        if at is not None:
            raise UsageError("a change is either at= a time or now (break-glass), not both", _SHOW)
    return rest, When(at, reason)


def _no_when(when: When, words: tuple[str, ...]) -> None:
    if when.at is not None or when.reason is not None:
        raise UsageError("at= and break-glass go with a change, not with opening the editor", usage(*words))


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


def _until(value: str, words: tuple[str, ...]) -> datetime:
    """A date means up to the end of that day (UTC); a time with its zone, up to that moment."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC) + timedelta(days=1)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"until= takes a date like 2026-12-31, got {value!r}", usage(*words)) from None
    if moment.tzinfo is None:
        raise UsageError(f"until= with a time needs its zone, like 2026-12-31T18:00+00:00, got {value!r}", usage(*words))
    return moment


def _grant_like(name: str, args: list[str]) -> Command:
    words = (name,)
    _arity(args, 2, words)
    subject = parse_subject(args[0], words)
    role = _role(args[1], words)
    rest = [a for a in args[2:] if not a.lower().startswith("until=")]
    untils = [a.partition("=")[2] for a in args[2:] if a.lower().startswith("until=")]
    scope = _scope(rest, words)
    if name == "revoke":
        if untils:
            raise UsageError("until= is for grant", usage(*words))
        return Revoke(subject, role, scope)
    if len(untils) > 1:
        raise UsageError("until= given twice", usage(*words))
    return Grant(subject, role, scope, _until(untils[0], words) if untils else None)


def _tasks(args: list[str]) -> Command:
    words = ("tasks",)
    selector: str | None = None
    page = 1
    rest = list(args)
    while rest:
        token = rest.pop(0)
        if token.lower() == "page" and rest:
            page = _positive_int(rest.pop(0), "page", words)
        elif ":" in token and selector is None:
            try:
                selector = parse_scope(token)
            except BadInput as exc:
                raise UsageError(str(exc), usage(*words)) from None
        else:
            raise UsageError(f"unexpected {token!r}", usage(*words))
    return ListTasks(selector, page)


def _policy(args: list[str]) -> Command:
    words = ("policy",)
    if not args or len(args) > 3:
        raise UsageError("give a task alias, and approval= or breakglass= to change it", usage(*words))
    alias = _alias(args[0], words)
    kinds: tuple[str, ...] | None = None
    glass: bool | None = None
    for token in args[1:]:
        key, sep, value = token.partition("=")
        key = key.lower()
        if key == "approval" and sep and value and kinds is None:
            kinds = tuple(v.strip().lower() for v in value.split(",") if v.strip())
            try:
                for kind in kinds:
                    if kind != "none":
                        parse_touch(kind)
            except BadInput as exc:
                raise UsageError(str(exc), usage(*words)) from None
            if "none" in kinds and len(kinds) > 1:
                raise UsageError("approval=none stands alone", usage(*words))
        elif key in ("breakglass", "break-glass", "break_glass") and value.lower() in ("on", "off") and glass is None:
            glass = value.lower() == "on"
        else:
            raise UsageError(
                f"unexpected {token!r}: use approval=layout,streams, approval=none, or breakglass=on|off", usage(*words)
            )
    return Policy(alias, kinds, glass)


def _one_alias(
    name: str, args: list[str], cls: type[RemoveTask | Status | History | Unlock | Who], words: tuple[str, ...]
) -> Command:
    if len(args) != 1:
        raise UsageError("give exactly one task alias", usage(*words))
    return cls(_alias(args[0], words))


def _audit(args: list[str]) -> Command:
    words = ("audit",)
    if not 1 <= len(args) <= 2:
        raise UsageError("give a task alias or tag:<tag>, and optionally since=…", usage(*words))
    what, *rest = args
    since = None
    if rest:
        key, sep, value = rest[0].partition("=")
        if key.lower() != "since" or not sep or not value:
            raise UsageError(f"unexpected {rest[0]!r}: only since=<when> may follow", usage(*words))
        try:
            audit.parse_when(value, datetime.now(UTC))
        except BadInput as exc:
            raise UsageError(str(exc), usage(*words)) from None
        since = value
    if what.lower().startswith("tag:"):
        try:
            return Audit(tag=names.tag(what[4:]), since=since)
        except names.InvalidName as exc:
            raise UsageError(str(exc), usage(*words)) from None
    return Audit(alias=_alias(what, words), since=since)


def _where(token: str, words: tuple[str, ...]) -> str:
    return _selector(token, words) if selectors.is_selector(token) else _alias(token, words)


def _scene(args: list[str], text: str, when: When | None = None) -> Command:
    sub = args[0].lower() if args else ""
    words = ("scene", sub) if sub in ("save", "show", "list", "delete", "apply") else ("scene",)
    rest = args[1:]
    if sub != "apply" and when is not None:
        _no_when(when, words)
    if sub == "list" and not rest:
        return SceneList()
    if sub == "save":
        _arity(rest, 2, words)
        where = _where(rest[0], words)
        return SceneSave(where, _alias(rest[1], words), tuple(decode(a) for a in rest[2:]))
    if sub == "show" and 1 <= len(rest) <= 2:
        version = _positive_int(rest[1].lstrip("vV"), "version", words) if len(rest) == 2 else None
        return SceneShow(_alias(rest[0], words), version)
    if sub == "delete" and len(rest) == 1:
        return SceneDelete(_alias(rest[0], words))
    if sub == "apply" and 1 <= len(rest) <= 2:
        return SceneApply(_alias(rest[0], words), _where(rest[1], words) if len(rest) == 2 else None, text, when or When())
    raise UsageError("scene needs save, show, list, delete or apply", usage(*words))


def _timed(head: str, text: str) -> Command:
    """The commands that take `at=` (and, for a change, break-glass). `typed` is kept whole for a replay."""
    typed = text
    text, reason = _take_reason(text)
    args = _tokens(text)[1:]
    args, when = _when(args, reason, (head,))
    if head == "scene":
        return _scene(args, typed, when)
    if head == "cue":
        if when.reason is not None:
            raise UsageError("a cue needs no break-glass: its rundown was approved before the show", usage("cue"))
        if len(args) != 2:
            raise UsageError("give the rundown and the cue: next, or its number", usage("cue"))
        which: str | int = "next" if args[1].lower() == "next" else _positive_int(args[1], "cue", ("cue",))
        return FireCue(_alias(args[0], ("cue",)), which, when.at)
    if head == "rollback":
        if len(args) != 2:
            raise UsageError("give a task alias and a version number", usage("rollback"))
        version = _positive_int(args[1].lstrip("vV"), "version", ("rollback",))
        return Rollback(_alias(args[0], ("rollback",)), version, when)
    return _verb(head, args, typed, when)


def _rundown(args: list[str], text: str) -> Command:
    sub = args[0].lower() if args else ""
    words = ("rundown", sub) if sub in _RUNDOWN_SUBS else ("rundown",)
    rest = args[1:]
    if sub == "list" and not rest:
        return RundownList()
    if sub in ("create", "edit", "show", "delete") and len(rest) == 1:
        one: dict[str, type[RundownCreate | RundownEdit | RundownShow | RundownDelete]] = {
            "create": RundownCreate,
            "edit": RundownEdit,
            "show": RundownShow,
            "delete": RundownDelete,
        }
        return one[sub](_alias(rest[0], words))
    if sub == "add" and len(rest) >= 2:
        name = _alias(rest[0], words)
        # the cue as typed after the name, spaces kept, Slack's escaping undone word by word
        cue = text.split(None, 3)[3] if len(text.split(None, 3)) == 4 else ""
        return RundownAdd(name, " ".join(decode(w) for w in cue.split(" ")))
    if sub == "remove" and len(rest) == 2:
        return RundownRemove(_alias(rest[0], words), _positive_int(rest[1], "cue", words))
    if sub == "arm" and len(rest) >= 2:
        return RundownArm(_alias(rest[0], words), " ".join(rest[1:]))
    raise UsageError("rundown needs " + ", ".join(_RUNDOWN_SUBS) + ", with their arguments", usage(*words))


_RUNDOWN_SUBS = ("create", "add", "remove", "edit", "show", "list", "arm", "delete")


def _schedule(args: list[str]) -> Command:
    if not args:
        return ListSchedules()
    if len(args) == 2 and args[0].lower() == "cancel":
        return CancelSchedule(_positive_int(args[1].lstrip("#"), "schedule id", ("schedule",)))
    raise UsageError("schedule lists what is scheduled; schedule cancel <id> withdraws one", usage("schedule"))


def parse(text: str) -> Command:
    tokens = _tokens(text)
    if not tokens:
        return Help()
    head, args = tokens[0].lower(), tokens[1:]
    if head == "help":
        return Help()
    if head == "tasks":
        return _tasks(args)
    if head == "task":
        sub = args[0].lower() if args else ""
        if sub == "add":
            return _task_add(args[1:])
        if sub == "remove":
            return _one_alias("task", args[1:], RemoveTask, ("task", "remove"))
        raise UsageError("task needs add or remove", usage("task"))
    if head == "status" and len(args) == 2 and args[1].lower() == "json":
        return Status(_alias(args[0], ("status",)), as_json=True)
    if head in ("status", "history", "unlock", "who"):
        one: dict[str, type[Status | History | Unlock | Who]] = {
            "status": Status,
            "history": History,
            "unlock": Unlock,
            "who": Who,
        }
        return _one_alias(head, args, one[head], (head,))
    if head == "policy":
        return _policy(args)
    if head == "incidents":
        if args:
            raise UsageError("incidents takes no arguments", usage("incidents"))
        return Incidents()
    if head == "watch":
        if len(args) != 2 or args[1].lower() not in ("on", "off"):
            raise UsageError("give a task alias and on or off", usage("watch"))
        return Watch(_alias(args[0], ("watch",)), args[1].lower() == "on")
    if head in {v.name for v in catalogue.verbs()} or head in ("scene", "rollback", "cue"):
        return _timed(head, text)
    if head in ("rundown", "rundowns"):
        return _rundown(args if head == "rundown" else ["list", *args], text)
    if head in ("schedule", "schedules"):
        return _schedule(args)
    if head in ("grant", "revoke"):
        return _grant_like(head, args)
    if head == "audit":
        return _audit(args)
    if head == "grants":
        if len(args) > 1:
            raise UsageError("give at most one user", usage("grants"))
        return ListGrants(parse_subject(args[0], ("grants",)) if args else None)
    raise UsageError(f"unknown subcommand {tokens[0]!r}", help_text())
