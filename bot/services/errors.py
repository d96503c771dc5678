"""Every refusal a service can give, as a typed exception that carries who, what and why as fields.

The services never word a refusal for a surface: the Slack handlers turn these into mrkdwn that points at a
/rtc command (`handlers.errors`), the admin CLI into a terminal line that points at an `rtcops` command
(`bot.cli.wording`). `str(exc)` is a plain fallback for logs and anything else.
"""

from __future__ import annotations

from bot.providers.errors import ProviderError as ProviderError


class ServiceError(Exception):
    """Base class of every refusal the edges render."""


class PermissionDenied(ServiceError):
    def __init__(self, action: str, reason: str, missing_role: str | None = None) -> None:
        self.action = action
        self.reason = reason
        self.missing_role = missing_role
        super().__init__(f"not allowed to {action}: {reason}")


class TaskNotFound(ServiceError):
    def __init__(self, alias: str) -> None:
        self.alias = alias
        super().__init__(f"no task called {alias!r}")


class TaskExists(ServiceError):
    def __init__(self, alias: str) -> None:
        self.alias = alias
        super().__init__(f"a task called {alias!r} already exists")


class NotFound(ServiceError):
    """A request or a grant that does not exist (or belongs to another team)."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"{what} not found")


class VersionNotFound(ServiceError):
    def __init__(self, alias: str, version: int) -> None:
        self.alias = alias
        self.version = version
        super().__init__(f"{alias} has no version {version}")


class Locked(ServiceError):
    """Another change is open on the task; `by` is its requester's user ID, `link` its Slack message."""

    def __init__(self, alias: str, request_id: int, by: str, link: str | None) -> None:
        self.alias = alias
        self.request_id = request_id
        self.by = by
        self.link = link
        super().__init__(f"{alias} is locked by request #{request_id} of {by}")


class OpenChange(ServiceError):
    """The task cannot be removed while a change on it is open."""

    def __init__(self, alias: str, request_id: int) -> None:
        self.alias = alias
        self.request_id = request_id
        super().__init__(f"{alias} has an open change (request #{request_id})")


class Stale(ServiceError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"stale: {reason}")


class PayloadChanged(Stale):
    """The change is no longer the one the approver was shown."""


class Expired(ServiceError):
    def __init__(self, request_id: int, minutes: int, *, noun: str = "request") -> None:
        self.request_id = request_id
        self.minutes = minutes
        self.noun = noun  # "bulk change" when `request_id` is a bulk's number
        super().__init__(f"{noun} #{request_id} expired (requests live {minutes} min)")


class SelfApproval(ServiceError):
    def __init__(self, request_id: int) -> None:
        self.request_id = request_id
        super().__init__("a requester cannot approve their own change")


class InvalidState(ServiceError):
    """The request has moved on (already approved, applied, rejected…); a repeated click lands here."""

    def __init__(self, request_id: int, state: str, wanted: str, *, noun: str = "request") -> None:
        self.request_id = request_id
        self.state = state
        self.wanted = wanted
        self.noun = noun  # "bulk change" when `request_id` is a bulk's number
        super().__init__(f"{noun} #{request_id} is {state}; it cannot be {wanted}")


class InvalidChange(ServiceError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the change is invalid: " + "; ".join(problems))


class WrongTarget(ServiceError):
    """A command for one kind of task aimed at another: `/rtc layout` on a Tencent ingest, say."""

    def __init__(self, alias: str, provider: str, verb: str, own_verbs: tuple[str, ...]) -> None:
        self.alias = alias
        self.provider = provider
        self.verb = verb
        self.own_verbs = own_verbs
        super().__init__(f"{alias} is a {provider} task; {verb} does not apply to it")


class StoreUnavailable(ServiceError):
    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"the store is unavailable ({detail}); nothing was changed")


class BadInput(ServiceError):
    """A role, scope, subject, name or option the user typed is not valid; the message says what is, in
    words that hold on every surface."""


class UnknownAtProvider(BadInput):
    """Registration of a task the provider says does not exist: most likely a typo in its identifiers. The
    admin CLI can force it; Slack cannot."""

    def __init__(self, alias: str, detail: str) -> None:
        self.alias = alias
        self.detail = detail
        super().__init__(detail)


class NoProvider(ServiceError):
    """A task names a target this version of rtcops does not have."""

    def __init__(self, alias: str, provider: str) -> None:
        self.alias = alias
        self.provider = provider
        super().__init__(f"{alias} belongs to {provider!r}, which this version of rtcops does not know")


class BreakGlassOff(ServiceError):
    """The task's policy turns break-glass off: every change on it waits for a second person."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        super().__init__(f"break-glass is turned off on {alias}")


class CueFired(BadInput):
    """The cue has fired already under this approval: each cue fires once."""

    def __init__(self, rundown: str, position: int, *, on_air: bool) -> None:
        self.rundown = rundown
        self.position = position
        self.on_air = on_air
        where = "is already on air" if on_air else "has already fired"
        super().__init__(f"cue {position} of {rundown} {where}")
