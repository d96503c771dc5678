"""Every refusal a service can give, as a typed exception the Slack layer turns into one message.

Each carries what the user needs to act (the missing role, who holds the lock and where, the problems with
the change); `str(exc)` is already a readable sentence. ProviderError is the providers' own, re-exported so the Slack
layer can render a provider refusal that reaches it without importing bot.providers.
"""

from __future__ import annotations

from bot.providers.errors import ProviderError as ProviderError


class ServiceError(Exception):
    """Base class; the handlers catch this one and render `str(exc)`.

    `str(exc)` may point at a /rtc command; `terminal` is the same refusal worded for the admin CLI, where
    the remedy is a different command (or none).
    """

    def __init__(self, message: str = "", *, terminal: str | None = None) -> None:
        super().__init__(message)
        self._terminal = terminal

    @property
    def terminal(self) -> str:
        return self._terminal or str(self)


class PermissionDenied(ServiceError):
    def __init__(self, action: str, reason: str, missing_role: str | None = None) -> None:
        self.action = action
        self.reason = reason
        self.missing_role = missing_role
        super().__init__(f"not allowed to {action}: {reason}")


class TaskNotFound(ServiceError):
    def __init__(self, alias: str) -> None:
        self.alias = alias
        super().__init__(
            f"no task called {alias!r}; `/rtc tasks` lists the tasks you can see",
            terminal=f"no task called {alias!r} in this team; `rtcops task list` lists them",
        )


class TaskExists(ServiceError):
    def __init__(self, alias: str) -> None:
        self.alias = alias
        super().__init__(f"a task called {alias!r} already exists")


class NotFound(ServiceError):
    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"{what} not found")


class Locked(ServiceError):
    """Another change is open on the task; `by` is the requester's user ID, `link` its Slack message."""

    def __init__(self, alias: str, request_id: int, by: str, link: str | None) -> None:
        self.alias = alias
        self.request_id = request_id
        self.by = by
        self.link = link
        where = f", {link}" if link else f" (request #{request_id})"
        super().__init__(f"{alias} is locked by <@{by}>{where}: finish or cancel that change first")


class Stale(ServiceError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"stale: {reason}; propose again")


class PayloadChanged(Stale):
    """The change is no longer the one the approver was shown."""


class Expired(ServiceError):
    def __init__(self, request_id: int, minutes: int) -> None:
        self.request_id = request_id
        super().__init__(f"request #{request_id} expired (requests live {minutes} min); propose again")


class SelfApproval(ServiceError):
    def __init__(self) -> None:
        super().__init__("you cannot approve your own change; ask another approver")


class InvalidState(ServiceError):
    """The request has moved on (already approved, applied, rejected…); a repeated click lands here."""

    def __init__(self, request_id: int, state: str, wanted: str) -> None:
        self.request_id = request_id
        self.state = state
        super().__init__(f"request #{request_id} is {state}; it cannot be {wanted}")


class InvalidChange(ServiceError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the change is invalid: " + "; ".join(problems))


class StoreUnavailable(ServiceError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"the store is unavailable ({detail}); nothing was changed")


class BadInput(ServiceError):
    """A role, scope, subject, alias or option the user typed is not valid; the message says what is."""


class UnknownAtProvider(BadInput):
    """Registration of a task the provider says does not exist: most likely a typo in its identifiers."""

    def __init__(self, message: str) -> None:
        super().__init__(message, terminal=f"{message}; --force registers it anyway")
