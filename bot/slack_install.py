"""Which Slack token speaks for which workspace: one SLACK_BOT_TOKEN for one workspace, or the installations that
Bolt's OAuth flow stores, one per workspace (or per Enterprise Grid organisation, for an org-wide install).

**Tenants.** Everything rtcops stores is scoped by a `team_id`. For a workspace install that is the workspace's
`T…`; for an org-wide install it is the organisation's `E…`, so one org-wide install is one tenant whose tasks and
grants every workspace of the organisation shares (user ids are unique across an organisation). `tenant_of`
says which, for a request or an event.

**Tokens at rest.** Installations live in our database through slack_sdk's `AsyncSQLAlchemyInstallationStore`
(tables from migration 0005). Its token columns are given a type that encrypts on the way in and decrypts on
the way out with Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`), so every query the library makes
sees plain tokens and the rows hold only ciphertext. RTCOPS_TOKEN_KEYS lists keys newest first
(`MultiFernet`): new tokens are encrypted with the first, every listed key still decrypts, and `reencrypt`
(`rtcops slack reencrypt-tokens`) rewrites every stored token under the first key, after which the old keys can
be dropped.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from typing import Any, Protocol

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import Table, and_, desc, or_, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import Text, TypeDecorator

from bot.config import MissingSetting, Settings

log = logging.getLogger("rtcops.installations")

BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "files:write",
    "usergroups:read",
    "users:read",
    "pins:write",
)
"""The bot scopes rtcops asks for; app.yaml lists the same ones (tests/slack/test_workspaces.py compares)."""
TOKEN_COLUMNS = {
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}
STATE_SECONDS = 600
"""How long an install link's `state` is good for: the user has ten minutes to choose a workspace and allow."""


class BadTokenKeys(MissingSetting):
    """RTCOPS_TOKEN_KEYS is missing or not a list of Fernet keys; the message names the variable, never a key."""

    def __init__(self, problem: str) -> None:
        Exception.__init__(self, f"invalid setting RTCOPS_TOKEN_KEYS: {problem}")
        self.variable = "RTCOPS_TOKEN_KEYS"


def token_box(settings: Settings) -> MultiFernet:
    """The keys of RTCOPS_TOKEN_KEYS, newest first. Make a key with
    `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."""
    raw = settings.token_keys.get_secret_value() if settings.token_keys is not None else ""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise BadTokenKeys("not set: it is required to store Slack tokens (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set)")
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError:
        raise BadTokenKeys("each key must be 32 url-safe base64-encoded bytes (Fernet.generate_key())") from None


class Encrypted(TypeDecorator[str]):
    """A token column: Fernet ciphertext in the row, the token in Python."""

    impl = Text
    cache_ok = False  # holds the keys; statements using it are not cached by its value

    def __init__(self, box: MultiFernet) -> None:
        super().__init__()
        self.box = box

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.box.encrypt(value.encode()).decode("ascii")

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        try:
            return self.box.decrypt(value.encode("ascii")).decode()
        except InvalidToken:
            # encrypted under a key no longer listed: as good as no token (the workspace must reinstall)
            log.error("a stored Slack token cannot be decrypted with any key in RTCOPS_TOKEN_KEYS")
            return None


def tenant_of(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> str | None:
    """The id rtcops scopes a request's data by: the organisation for an org-wide install, else the workspace."""
    return enterprise_id if is_enterprise_install and enterprise_id else team_id


class Workspaces(Protocol):
    """Where the bot's token for a tenant comes from."""

    async def token_for(self, tenant: str) -> str | None:
        """The bot token that speaks for `tenant`, or None when rtcops is not installed there."""

    async def sample(self) -> tuple[str, str] | None:
        """One (tenant, token) to check with auth.test (/readyz), or None when nothing is installed yet."""


class SingleWorkspace:
    """SLACK_BOT_TOKEN: one workspace, one token, whatever the tenant."""

    def __init__(self, token: str, team_id: str | None = None) -> None:
        self.token = token
        self.team_id = team_id

    async def token_for(self, tenant: str) -> str | None:
        return self.token

    async def sample(self) -> tuple[str, str] | None:
        return (self.team_id or "the workspace", self.token)


class Installations(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's SQLAlchemy installation store on our engine, with its tokens encrypted (module docstring)."""

    def __init__(self, client_id: str, engine: AsyncEngine, box: MultiFernet) -> None:
        super().__init__(client_id=client_id, engine=engine, logger=log)
        self.box = box
        for table in (self.installations, self.bots):
            for name in TOKEN_COLUMNS[table.name]:
                table.c[name].type = Encrypted(box)

    async def token_for(self, tenant: str) -> str | None:
        """The newest bot token installed for the tenant: an org-wide install (enterprise id) or a workspace
        install (team id, whatever organisation the workspace is in)."""
        c = self.installations.c
        query = (
            select(c.bot_token)
            .where(
                c.client_id == self.client_id,
                c.bot_token.is_not(None),
                or_(
                    and_(c.is_enterprise_install.is_(True), c.enterprise_id == tenant),
                    and_(c.is_enterprise_install.is_(False), c.team_id == tenant),
                ),
            )
            .order_by(desc(c.installed_at))
            .limit(1)
        )
        async with self.engine.connect() as conn:
            token = (await conn.execute(query)).scalar_one_or_none()
        return str(token) if token else None

    async def tenants(self) -> list[tuple[str, str | None, bool]]:
        """(tenant, its name, org-wide?) of every installation that has a bot token."""
        c = self.installations.c
        query = select(c.enterprise_id, c.enterprise_name, c.team_id, c.team_name, c.is_enterprise_install).where(
            c.client_id == self.client_id, c.bot_token.is_not(None)
        )
        found: dict[str, tuple[str, str | None, bool]] = {}
        async with self.engine.connect() as conn:
            for enterprise_id, enterprise_name, team_id, team_name, org in (await conn.execute(query)).all():
                tenant = tenant_of(enterprise_id, team_id, org)
                if tenant:
                    found[tenant] = (tenant, enterprise_name if org else team_name, bool(org))
        return sorted(found.values())

    async def sample(self) -> tuple[str, str] | None:
        tenants = await self.tenants()
        if not tenants:
            return None
        tenant = random.choice(tenants)[0]  # noqa: S311 - choosing which installation to check, not a secret
        token = await self.token_for(tenant)
        return (tenant, token) if token else None

    async def forget(self, tenant: str, *, org: bool, bot: bool = True, user_ids: Sequence[str] = ()) -> int:
        """Deletes tokens (app_uninstalled, tokens_revoked): with `bot`, every bot token of the tenant (its
        installation rows and bot rows go); else only the user tokens of `user_ids`. Returns the rows touched."""
        i, b = self.installations, self.bots
        where_i = _tenant_rows(i, self.client_id, tenant, org)
        where_b = _tenant_rows(b, self.client_id, tenant, org)
        async with self.engine.begin() as conn:
            if bot:
                gone = (await conn.execute(b.delete().where(where_b))).rowcount
                gone += (await conn.execute(i.delete().where(where_i))).rowcount
                return int(gone or 0)
            if not user_ids:
                return 0
            cleared = await conn.execute(
                update(i)
                .where(where_i, i.c.user_id.in_(list(user_ids)))
                .values(user_token=None, user_refresh_token=None, user_token_expires_at=None, user_scopes=None)
            )
            return int(cleared.rowcount or 0)


def _tenant_rows(table: Table, client_id: str, tenant: str, org: bool) -> Any:
    c = table.c
    if org:
        return and_(c.client_id == client_id, c.enterprise_id == tenant, c.is_enterprise_install.is_(True))
    return and_(c.client_id == client_id, c.team_id == tenant, c.is_enterprise_install.is_(False))


def oauth_state_store(engine: AsyncEngine) -> AsyncSQLAlchemyOAuthStateStore:
    """Install links' `state`, in our database (not a local file), so the redirect may reach any replica."""
    return AsyncSQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine, logger=log)


async def reencrypt(engine: AsyncEngine, box: MultiFernet) -> int:
    """Rewrites every stored token under the newest key (MultiFernet.rotate); returns how many were rewritten.
    A token no listed key can decrypt is left as it is and counted out (it logs an error)."""
    from sqlalchemy import Column, Integer, MetaData

    rewritten = 0
    for name, columns in TOKEN_COLUMNS.items():
        table = Table(name, MetaData(), Column("id", Integer, primary_key=True), *(Column(c, Text) for c in columns))
        async with engine.begin() as conn:
            rows = (await conn.execute(select(table))).all()
            for row in rows:
                values: dict[str, str] = {}
                for column in columns:
                    value = getattr(row, column)
                    if value is None:
                        continue
                    try:
                        values[column] = box.rotate(value.encode("ascii")).decode("ascii")
                    except InvalidToken:
                        log.error("a token in %s.%s (row %s) cannot be decrypted with any key", name, column, row.id)
                if values:
                    await conn.execute(update(table).where(table.c.id == row.id).values(**values))
                    rewritten += len(values)
    return rewritten
