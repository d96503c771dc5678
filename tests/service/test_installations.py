"""Slack installations in our database (several workspaces), on SQLite and PostgreSQL: the tables migration 0005
made hold every column slack_sdk's stores use; tokens go in encrypted and come out plain; a tenant's token is found
by workspace or organisation; install states are issued once; tokens re-encrypt under a new key and go when a
tenant uninstalls."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, MultiFernet
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.slack_install import BadTokenKeys, Installations, oauth_state_store, reencrypt, token_box

OLD, NEW = Fernet.generate_key(), Fernet.generate_key()


async def test_the_migrated_tables_hold_every_column_slack_sdk_uses(engine: AsyncEngine) -> None:
    wanted = MetaData()
    tables = [
        SQLAlchemyInstallationStore.build_installations_table(wanted, "slack_installations"),
        SQLAlchemyInstallationStore.build_bots_table(wanted, "slack_bots"),
        SQLAlchemyOAuthStateStore.build_oauth_states_table(wanted, "slack_oauth_states"),
    ]
    async with engine.connect() as conn:
        found = await conn.run_sync(lambda c: {t.name: {col["name"] for col in inspect(c).get_columns(t.name)} for t in tables})
    for table in tables:
        assert {c.name for c in table.columns} <= found[table.name], table.name


async def test_tokens_are_stored_encrypted_found_by_tenant_rotated_and_forgotten(engine: AsyncEngine) -> None:
    store = Installations("1111.2222", engine, MultiFernet([Fernet(OLD)]))
    await store.async_save(Installation(app_id="A1", team_id="T0ONE", team_name="one", bot_token="xoxb-one-secret",
                                        bot_id="B1", bot_user_id="UBOT", user_id="U0INSTALL", bot_scopes="commands"))  # fmt: skip
    await store.async_save(Installation(app_id="A1", team_id="T0GRID", enterprise_id="E0ORG", bot_token="xoxb-grid-ws",
                                        bot_id="B1", bot_user_id="UBOT", user_id="W0INSTALL"))  # fmt: skip
    await store.async_save(Installation(app_id="A1", enterprise_id="E0ORG", enterprise_name="Org", team_id=None,
                                        is_enterprise_install=True, bot_token="xoxb-org-wide", bot_id="B1",
                                        bot_user_id="UBOT", user_id="W0INSTALL"))  # fmt: skip
    assert await store.token_for("T0ONE") == "xoxb-one-secret"
    assert await store.token_for("T0GRID") == "xoxb-grid-ws", "a workspace install inside an organisation"
    assert await store.token_for("E0ORG") == "xoxb-org-wide"
    assert await store.token_for("T0NOBODY") is None
    assert [t[0] for t in await store.tenants()] == ["E0ORG", "T0GRID", "T0ONE"]
    found = await store.async_find_installation(enterprise_id=None, team_id="T0ONE")
    assert found is not None and found.bot_token == "xoxb-one-secret"

    async with engine.connect() as conn:
        raw = (await conn.execute(text("SELECT bot_token FROM slack_installations WHERE team_id = 'T0ONE'"))).scalar_one()
    assert "xoxb" not in raw and Fernet(OLD).decrypt(raw.encode()) == b"xoxb-one-secret"

    assert await reencrypt(engine, MultiFernet([Fernet(NEW), Fernet(OLD)])) == 6  # three rows in each table
    async with engine.connect() as conn:
        raw = (await conn.execute(text("SELECT bot_token FROM slack_bots WHERE team_id = 'T0ONE'"))).scalar_one()
    assert Fernet(NEW).decrypt(raw.encode()) == b"xoxb-one-secret"
    assert await store.token_for("T0ONE") is None, "the old key alone no longer decrypts: as good as no token"
    rotated = Installations("1111.2222", engine, MultiFernet([Fernet(NEW)]))
    assert await rotated.token_for("T0ONE") == "xoxb-one-secret"

    assert await rotated.forget("E0ORG", org=True) == 2
    assert await rotated.token_for("E0ORG") is None and await rotated.token_for("T0GRID") == "xoxb-grid-ws"
    assert await rotated.forget("T0ONE", org=False) == 2
    assert [t[0] for t in await rotated.tenants()] == ["T0GRID"]


async def test_an_install_link_state_is_good_once(engine: AsyncEngine) -> None:
    states = oauth_state_store(engine)
    state = await states.async_issue()
    assert await states.async_consume(state) is True
    assert await states.async_consume(state) is False


def test_token_keys_are_checked_and_never_quoted() -> None:
    with pytest.raises(BadTokenKeys, match="RTCOPS_TOKEN_KEYS: not set"):
        token_box(Settings(_env_file=None))  # type: ignore[call-arg]
    with pytest.raises(BadTokenKeys) as refused:
        token_box(Settings(_env_file=None, token_keys="not-a-fernet-key-but-a-secret"))  # type: ignore[call-arg]
    assert "not-a-fernet-key-but-a-secret" not in str(refused.value)
    box = token_box(Settings(_env_file=None, token_keys=f" {NEW.decode()} , {OLD.decode()} "))  # type: ignore[call-arg]
    assert box.decrypt(Fernet(OLD).encrypt(b"x")) == b"x"
