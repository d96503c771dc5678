"""`rtcops rundown import | export`: a rundown as a small YAML or JSON file, written before the show and kept
with it. Import creates the rundown, or replaces the cues of one that exists (which disarms it, as any edit
does); export writes one back in the same shape, so a file round-trips."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bot.cli.admin import TEAM, _run


@click.group()
def rundown() -> None:
    """Rundowns as files: import one written by hand, export one to keep or edit."""


def _read(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="FILE") from None
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise click.BadParameter(f"{path} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {first}") from None


@rundown.command("import")
@TEAM
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def import_(team: str, file: Path) -> None:
    """Create the rundown FILE describes (or replace its cues, disarming it)."""
    from bot.services import rundowns
    from bot.services.errors import BadInput, NotFound

    try:
        name, cues = rundowns.parse_document(_read(file))
    except BadInput as exc:
        click.echo(f"error: {file}: {exc}", err=True)
        sys.exit(1)

    async def work(deps: Any, actor: Any) -> rundowns.RundownInfo:
        try:
            await rundowns.show(deps, actor, name)
        except NotFound:
            return await rundowns.create(deps, actor, name, cues)
        return await rundowns.replace_cues(deps, actor, name, cues)

    found = _run(team, work)
    click.echo(f"rundown {found.name}: {len(found.cues)} cues, version {found.version}, {found.state.words}")


@rundown.command("export")
@TEAM
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def export(team: str, name: str, fmt: str) -> None:
    """Write rundown NAME to standard output, in the shape `rtcops rundown import` reads."""
    import yaml

    from bot.services import rundowns

    found = _run(team, lambda d, a: rundowns.show(d, a, name))
    doc = rundowns.export(found)
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        click.echo(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), nl=False)
