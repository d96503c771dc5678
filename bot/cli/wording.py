"""Service refusals in a terminal's words: plain text that points at an `rtcops` command where one helps,
never at /rtc or a Slack mention."""

from __future__ import annotations

from bot.services.errors import (
    InvalidChange,
    Locked,
    OpenChange,
    PermissionDenied,
    ServiceError,
    TaskNotFound,
    UnknownAtProvider,
    VersionNotFound,
    WrongTarget,
)


def terminal(error: ServiceError) -> str:
    match error:
        case PermissionDenied(action=action, reason=reason):
            return f"not allowed to {action}: {reason}"
        case TaskNotFound(alias=alias):
            return f"no task called {alias!r} in this team; `rtcops task list` lists them"
        case VersionNotFound(alias=alias, version=version):
            return f"{alias} has no version {version}"
        case Locked(alias=alias, request_id=rid, by=by):
            return f"{alias} is locked by request #{rid} (requested by {by}); it must be finished or cancelled first"
        case OpenChange(alias=alias, request_id=rid):
            return f"{alias} has an open change (request #{rid}); it must be cancelled or finished in Slack first"
        case InvalidChange(problems=problems):
            return "the change is invalid: " + "; ".join(problems)
        case WrongTarget(alias=alias, provider=provider, verb=verb):
            return f"{alias} is a {provider} task; {verb} does not apply to it"
        case UnknownAtProvider(detail=detail):
            return f"{detail}; --force registers it anyway"
    return str(error)
