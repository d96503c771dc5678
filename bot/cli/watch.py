"""`rtcops incidents` and `rtcops watch`: the watcher's incidents and switch without Slack, as `/rtc incidents` and
`/rtc watch` give them (the same services; the CLI acts as a system admin, see `bot.cli.admin`)."""

from __future__ import annotations

import click

from bot.cli.admin import TEAM, _run


@click.command()
@TEAM
def incidents(team: str) -> None:
    """Open incidents (outages and drift) of the team's tasks, oldest first: one line each, tab-separated."""
    from bot.services.watch import list_incidents

    found = _run(team, list_incidents)
    if not found:
        click.echo("no open incidents", err=True)
    for v in found:
        acked = f"acknowledged by {v.acked_by} at {v.acked_at:%Y-%m-%d %H:%M:%S} UTC" if v.acked_by and v.acked_at else ""
        since = f"since {v.since:%Y-%m-%d %H:%M:%S} UTC"
        click.echo("\t".join((f"#{v.id}", v.alias, v.kind.value, since, v.words, acked, v.link or "")).rstrip())


@click.command()
@TEAM
@click.argument("alias")
@click.argument("switch", type=click.Choice(["on", "off"], case_sensitive=False))
def watch(team: str, alias: str, switch: str) -> None:
    """Turn watching a task on or off (on by default; off closes its incidents and stops its polls)."""
    from bot.services.watch import set_watching

    info = _run(team, lambda d, a: set_watching(d, a, alias, switch.lower() == "on"))
    state = f"watched, {info.condition.words}" if info.enabled else "not watched"
    click.echo(f"{info.alias}: {state}")
