"""Selectors: the words that name many tasks where a command takes one alias.

`tag:semis`, `provider:<name>`, or a comma list of any of these and aliases (`semis-1,semis-2,tag:finals`). A
selector matches only tasks the person may see, as `/rtc tasks tag:…` lists them; an alias named in a list that
they may not see (or that does not exist) is reported as not found, in the same words either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot import names
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput
from bot.services.permissions import checker, parse_scope, require_somewhere
from bot.services.tasks import task_scope
from bot.store.models import Task

MAX_ITEMS = 50
SELECTOR_RULE = "tag:<tag>, provider:<name>, or a comma list of aliases and these"


@dataclass(frozen=True)
class Selector:
    """A parsed selector; `text` is its normal form (lower-case aliases and providers, tags as typed)."""

    text: str
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()

    def matches(self, task: Task) -> bool:
        return task.alias in self.aliases or task.provider in self.providers or any(t in (task.tags or ()) for t in self.tags)


@dataclass(frozen=True)
class Matched:
    """What a selector found: the tasks (by alias), and the aliases it named that are not there."""

    tasks: list[Task]
    missing: list[str]


def is_selector(text: str) -> bool:
    """Whether a word in an alias's place names a set: it has a scope prefix or a comma."""
    return "," in text or ":" in text


def parse(text: str) -> Selector:
    """Raises BadInput, saying which item is wrong."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise BadInput(f"empty selector: use {SELECTOR_RULE}")
    if len(items) > MAX_ITEMS:
        raise BadInput(f"a selector names at most {MAX_ITEMS} items; use a tag for more tasks")
    aliases: list[str] = []
    tags: list[str] = []
    providers: list[str] = []
    for item in items:
        if ":" not in item:
            try:
                value = names.alias(item)
            except names.InvalidName as exc:
                raise BadInput(str(exc)) from None
            aliases.append(value)
            continue
        prefix, _, rest = item.partition(":")
        if prefix.strip().lower() not in ("tag", "provider", "task") or not rest.strip():
            raise BadInput(f"unknown selector item {item!r}: use {SELECTOR_RULE}")
        scope = parse_scope(item)
        kind, _, value = scope.partition(":")
        if kind == "tag":
            tags.append(value)
        elif kind == "provider":
            providers.append(value)
        elif kind == "task":
            aliases.append(value)
        else:
            raise BadInput(f"unknown selector item {item!r}: use {SELECTOR_RULE}")
    normal = [*(f"tag:{t}" for t in _unique(tags)), *(f"provider:{p}" for p in _unique(providers)), *_unique(aliases)]
    return Selector(",".join(normal), tuple(_unique(aliases)), tuple(_unique(tags)), tuple(_unique(providers)))


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


async def resolve(deps: Deps, actor: Actor, selector: Selector) -> Matched:
    """The tasks the selector matches that the actor may view, sorted by alias. Someone with no role anywhere is
    refused, as `/rtc tasks` refuses them."""
    await require_somewhere(deps, actor, "view", "list tasks")
    may_view = await checker(deps, actor, "view")
    async with deps.sessions() as session:
        rows = (
            await session.scalars(
                select(Task).where(Task.team_id == actor.team_id, Task.removed_at.is_(None)).order_by(Task.alias)
            )
        ).all()
    found = [t for t in rows if selector.matches(t) and may_view(task_scope(t)).allowed]
    seen = {t.alias for t in found}
    return Matched(found, [a for a in selector.aliases if a not in seen])
