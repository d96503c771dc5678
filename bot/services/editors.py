"""The editor modals, for every target: opening one (permission to propose first, then what the target
offers for the task) and reading a submission (pure, before the acknowledgement)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput, WrongTarget
from bot.services.tasks import load_authorized, target_of, task_ref
from bot.targets.base import ChangeSyntax, Choice, Editor, EditorItem, Errors, Field, Heading, Note, TargetChange
from bot.targets.registry import verb_owner

__all__ = ["Choice", "Editor", "EditorItem", "Errors", "Field", "Heading", "Note", "open_editor", "read_editor"]


async def open_editor(deps: Deps, actor: Actor, alias: str, verb: str) -> Editor:
    task = await load_authorized(deps, actor, alias, "propose")
    target = target_of(task)
    if not any(v.name == verb and v.editor for v in target.verbs):
        raise WrongTarget(task.alias, task.provider, verb, tuple(v.name for v in target.verbs))
    state = await target.read(deps.providers, task_ref(task))
    try:
        return target.editor(verb, task_ref(task), state)
    except ChangeSyntax as exc:
        raise BadInput(str(exc)) from None


def read_editor(
    verb: str, values: Mapping[str, str], initial: Mapping[str, str], context: Mapping[str, str]
) -> tuple[TargetChange | None, Errors]:
    """A submission as a change, or errors keyed by field id. No store, no provider: it runs before the ack."""
    owner = verb_owner(verb)
    if owner is None:
        return None, {"": f"no editor called {verb!r}"}
    return owner[0].read_editor(verb, values, initial, context)
