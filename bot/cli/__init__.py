"""`rtcops …`: the command line. Each command group lives in its own module and is imported on first
use, so `rtcops --help` stays fast and a broken optional dependency cannot break unrelated commands."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from bot.config import MissingSetting

# name -> "module:attribute" of a click command or group
COMMANDS: dict[str, str] = {
    "provider": "bot.cli.provider:provider",
    "sandbox": "bot.cli.sandbox:sandbox",
    "layout": "bot.cli.layout:layout",
    "db": "bot.cli.db:db",
    "task": "bot.cli.admin:task",
    "grant": "bot.cli.admin:grant",
    "revoke": "bot.cli.admin:revoke",
    "grants": "bot.cli.admin:grants",
    "audit": "bot.cli.admin:audit",
    "slack": "bot.cli.slack:slack",
    "rundown": "bot.cli.rundown:rundown",
    "serve": "bot.cli.serve:serve",
    "demo": "bot.cli.demo:demo",
    "incidents": "bot.cli.watch:incidents",
    "watch": "bot.cli.watch:watch",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        command: click.Command = getattr(module, attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MissingSetting as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=LazyGroup)
@click.version_option(package_name="rtcops")
def main() -> None:
    """rtcops: change live Volcengine RTC and Tencent TRTC tasks safely from Slack."""


if __name__ == "__main__":
    main()
