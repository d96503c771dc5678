"""The editors as use cases: opening one (permission to propose first, then what it shows) and turning a
form that `forms` accepted into a proposal."""

from __future__ import annotations

from bot.services import changes, forms, tasks
from bot.services.deps import Actor, Deps
from bot.services.results import ChangeResult


async def open_layout_editor(deps: Deps, actor: Actor, alias: str) -> forms.LayoutEditor:
    await tasks.load_authorized(deps, actor, alias, "propose")
    return forms.layout_editor(await tasks.show_task(deps, actor, alias))


async def open_ingest_editor(deps: Deps, actor: Actor, alias: str) -> forms.IngestEditor:
    await tasks.load_authorized(deps, actor, alias, "propose")
    return forms.ingest_editor(await tasks.show_task(deps, actor, alias))


async def propose_layout(deps: Deps, actor: Actor, alias: str, form: forms.LayoutProposal) -> ChangeResult:
    """A checked layout form becomes a preset, a region edit, or a background patch."""
    if form.preset is not None:
        return await changes.propose_layout_preset(deps, actor, alias, form.preset, form.streams, form.options)
    if form.region is not None:
        return await changes.propose_region_edit(deps, actor, alias, form.region[0], form.region[1])
    patch = {"Layout": {"CustomLayout": {"Canvas": {"Background": form.background}}}}
    return await changes.propose_patch(deps, actor, alias, patch, summary=f"background {form.background}")


async def propose_ingest(deps: Deps, actor: Actor, alias: str, form: forms.IngestProposal) -> ChangeResult:
    return await changes.propose_ingest(deps, actor, alias, stream_url=form.url, volume=form.volume, pause=form.pause)
