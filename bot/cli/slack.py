"""`rtcops slack installations | reencrypt-tokens`: the workspaces rtcops is installed in (several-workspace
mode), and the rotation of the key their tokens are encrypted with (bot/slack_install.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


@click.group()
def slack() -> None:
    """Slack installations (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, RTCOPS_TOKEN_KEYS)."""


@slack.command("installations")
def installations() -> None:
    """List the workspaces and organisations rtcops is installed in (never a token)."""
    from bot.cli.db import run_with_engine
    from bot.config import get_settings
    from bot.slack_install import Installations, token_box
    from bot.store import schema

    settings = get_settings()
    client_id = settings.require("slack_client_id", "to read the installations of this app")

    async def main(engine: AsyncEngine) -> list[tuple[str, str | None, bool]]:
        await schema.ensure_current(engine)
        return await Installations(client_id, engine, token_box(settings)).tenants()

    found = run_with_engine(main)
    if not found:
        click.echo("rtcops is not installed in any workspace yet", err=True)
    for tenant, name, org in found:
        click.echo(f"{tenant}\t{'organisation' if org else 'workspace'}\t{name or ''}")


@slack.command("reencrypt-tokens")
def reencrypt_tokens() -> None:
    """Rewrite every stored Slack token under the first key of RTCOPS_TOKEN_KEYS.

    Rotating the key: put the new key first in RTCOPS_TOKEN_KEYS and keep the old ones after it (every listed
    key decrypts), deploy, run this, then drop the old keys.
    """
    from bot.cli.db import run_with_engine
    from bot.config import get_settings
    from bot.slack_install import reencrypt, token_box
    from bot.store import schema

    box = token_box(get_settings())

    async def main(engine: AsyncEngine) -> int:
        await schema.ensure_current(engine)
        return await reencrypt(engine, box)

    count = run_with_engine(main)
    click.echo(f"re-encrypted {count} stored token(s) under the first key of RTCOPS_TOKEN_KEYS")
