"""Several workspaces through Bolt's OAuth flow, end to end over HTTP: /slack/install, the fake Slack's authorize
page and oauth.v2.access, /slack/oauth_redirect; then each workspace's traffic, answered and told with its own
token, and nothing of one workspace visible from another. Tokens are encrypted at rest (the raw rows are read),
the key rotates, and app_uninstalled / tokens_revoked delete them.

The fake Slack holds four workspaces: Alpha and Beta (workspace installs) and two workspaces of the Enterprise
Grid organisation E0GRID, installed once for the whole organisation. A token sees only its own workspace's
channels (an org token, its organisation's), so a notice said with the wrong token fails as it would at Slack.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet, InvalidToken
from slack_support import SIGNING_SECRET

from bot import app as bot_app
from bot.app import Bot
from bot.config import Settings
from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.serve import serve_in_loop
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.slack_driver import SlackDriver, wait_for
from bot.server import create_server
from bot.slack_install import reencrypt
from bot.store.engine import create_engine
from bot.store.schema import upgrade

CLIENT_ID, CLIENT_SECRET = "1111111111.2222222222", "fake-oauth-client-secret-0123456789"
KEY_OLD, KEY_NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SDK_APP_ID = 1400000011


@dataclass(frozen=True)
class Place:
    team: str
    admin: str
    operator: str
    channel: str
    enterprise: str | None = None
    org: bool = False

    @property
    def tenant(self) -> str:
        return str(self.enterprise) if self.org else self.team


ALPHA = Place("T0ALPHA", "U0ALPHAADM", "U0ALPHAOPS", "C0ALPHA")
BETA = Place("T0BETA", "U0BETAADM", "U0BETAOPS", "C0BETA")
GRID_A = Place("T0GRIDA", "W0GRIDADM", "W0GRIDOPS", "C0GRIDA", "E0GRID", org=True)
GRID_B = Place("T0GRIDB", "W0GRIDBOB", "W0GRIDBOP", "C0GRIDB", "E0GRID", org=True)


@dataclass
class Workspaces:
    url: str
    fake: FakeSlack
    bot: Bot
    http: httpx.AsyncClient
    db: Path
    tencent: tencent_sim.TencentState

    def driver(self, place: Place) -> SlackDriver:
        return SlackDriver(
            self.url,
            SIGNING_SECRET,
            self.fake,
            team=place.team,
            http=self.http,
            enterprise=place.enterprise,
            org_install=place.org,
        )

    async def install(self, place: Place) -> httpx.Response:
        """A person of `place` clicks "Add to Slack": rtcops' /slack/install, Slack's authorize page (the fake
        answers as if they allowed it), then back to rtcops' /slack/oauth_redirect with the code and the state."""
        start = await self.http.get(f"{self.url}/slack/install", params={"team": place.team})
        assert start.status_code == 302, start.text
        cookie = start.headers["set-cookie"].split(";")[0]
        authorize = httpx.URL(start.headers["location"])
        allowed = await self.http.get(
            authorize.copy_merge_params({"user": place.admin, "org_install": "1" if place.org else "0"})
        )
        assert allowed.status_code == 302, allowed.text
        return await self.http.get(allowed.headers["location"], headers={"cookie": cookie})

    async def propose(self, place: Place, user: str, text: str) -> None:
        """/rtc `text` that makes a change: what follows is said in the channel, not in private."""
        response = await self.driver(place).command(user, text, place.channel)
        assert response.status_code == 200, response.text

    async def command(self, place: Place, user: str, text: str) -> str:
        """/rtc `text` by `user` in `place`; the bot's private answer."""
        seen = len(self.fake.ephemerals_for(user))
        response = await self.driver(place).command(user, text, place.channel)
        assert response.status_code == 200, response.text
        answers = await wait_for(lambda: self.fake.ephemerals_for(user)[seen:], f"the answer to {text!r} in {place.team}")
        return str(answers[0].text + json.dumps(answers[0].blocks))

    def raw_tokens(self, table: str = "slack_installations") -> list[tuple[str | None, str | None, str]]:
        with sqlite3.connect(self.db) as conn:
            return list(conn.execute(f"SELECT team_id, enterprise_id, bot_token FROM {table}"))


@pytest.fixture
async def workspaces(tmp_path: Path) -> AsyncIterator[Workspaces]:
    fake = FakeSlack(bot_token="xoxb-never-used-single-workspace", team_id="T0UNUSED")
    for place, name in ((ALPHA, "alpha"), (BETA, "beta"), (GRID_A, "grid-a"), (GRID_B, "grid-b")):
        fake.add_workspace(
            place.team,
            name=name,
            enterprise_id=place.enterprise,
            users={place.admin: f"{name}-admin", place.operator: f"{name}-operator"},
            channels={place.channel: f"{name}-ops"},
        )
    fake.enable_oauth(CLIENT_ID, CLIENT_SECRET)
    volc_app, _ = volcengine_sim.create_volcengine_sim()
    tencent_app, tencent_state = tencent_sim.create_tencent_sim(site="intl")
    db = tmp_path / "rtcops.db"
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    await upgrade(engine)
    await engine.dispose()
    async with serve_in_loop(fake.app) as slack_url, serve_in_loop(volc_app) as volc_url, serve_in_loop(tencent_app) as tc_url:
        fake.base_url = slack_url
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_client_id=CLIENT_ID,
            slack_client_secret=CLIENT_SECRET,
            token_keys=KEY_OLD,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=f"{slack_url}/api/",
            database_url=f"sqlite+aiosqlite:///{db}",
            admin_users=",".join(p.admin for p in (ALPHA, BETA, GRID_A)),
            volc_accesskey=volcengine_sim.DEFAULT_ACCESS_KEY,
            volc_secretkey=volcengine_sim.DEFAULT_SECRET_KEY,
            volcengine_endpoint=volc_url,
            tencentcloud_secret_id=tencent_sim.DEFAULT_SECRET_ID,
            tencentcloud_secret_key=tencent_sim.DEFAULT_SECRET_KEY,
            tencent_endpoint=tc_url,
            tencent_site="intl",
        )
        bot = await bot_app.start(settings)
        bot.start_loops()
        try:
            async with serve_in_loop(create_server(bot.app)) as bot_url, httpx.AsyncClient(timeout=30) as http:
                fake.oauth_redirect_uri = f"{bot_url}/slack/oauth_redirect"
                yield Workspaces(bot_url, fake, bot, http, db, tencent_state)
        finally:
            await bot_app.stop(bot)


async def _ingest(w: Workspaces) -> str:
    started = await w.bot.deps.providers.tencent().start_stream_ingest(
        {"SdkAppId": SDK_APP_ID, "RoomId": "lobby", "RoomIdType": 0, "UserId": "ingest", "UserSig": "sig",
         "StreamUrl": "https://media.example.com/lobby.mp4"}
    )  # fmt: skip
    return str(started.result.task_id)


async def _register(w: Workspaces, place: Place, ingest: str) -> None:
    added = await w.command(
        place, place.admin,
        f"task add tencent lobby {SDK_APP_ID} {ingest} url=https://media.example.com/lobby.mp4 volume=100 state=running "
        f"channel=<#{place.channel}|ops>",
    )  # fmt: skip
    assert "lobby" in added and ":warning:" not in added, added


async def test_two_workspaces_and_an_organisation_install_and_see_none_of_each_other(workspaces: Workspaces) -> None:
    w = workspaces
    for place in (ALPHA, BETA, GRID_A):
        done = await w.install(place)
        assert done.status_code == 200, done.text
    assert sorted(await w.bot.workspaces.tenants()) == [  # type: ignore[attr-defined]
        ("E0GRID", "Org E0GRID", True), ("T0ALPHA", "alpha", False), ("T0BETA", "beta", False)
    ]  # fmt: skip
    # three installations, three tokens, each of its own workspace (or organisation)
    assert {w.fake.tokens[t].tenant for t in w.fake.tokens if t.startswith("xoxb-T0A") or t.startswith("xoxb-E")} == {
        "T0ALPHA", "E0GRID"
    }  # fmt: skip

    ingest = await _ingest(w)
    for place in (ALPHA, BETA, GRID_A):
        await _register(w, place, ingest)
    await w.command(ALPHA, ALPHA.admin, f"grant <@{ALPHA.operator}|op> operator")
    await w.command(GRID_A, GRID_A.admin, f"grant <@{GRID_B.operator}|op> operator")

    # each workspace changes its own task; every thread post and notification goes out with that workspace's token
    await w.propose(ALPHA, ALPHA.operator, "ingest lobby volume=40")
    await w.propose(GRID_B, GRID_B.operator, "ingest lobby volume=70")  # the other workspace of the organisation
    for place, tenant in ((ALPHA, "T0ALPHA"), (GRID_B, "E0GRID")):
        posted = await wait_for(
            lambda p=place: [m for m in w.fake.messages if m.channel == p.channel and "RequestId" in json.dumps(m.blocks)],
            f"the outcome in {place.channel}",
        )
        assert {m.team for m in w.fake.messages if m.channel == place.channel} == {tenant}
        assert posted
    await _settled(w)
    assert [c for c in w.fake.failed_calls()] == [], "no call was made with another workspace's token"
    # the check above means something: Alpha's token cannot post into Beta's channel, as at Slack
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    alpha = AsyncWebClient(token=w.fake.tokens_of("T0ALPHA")[0], base_url=f"{w.fake.base_url}/api/")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await alpha.chat_postMessage(channel=BETA.channel, text="leak")
    w.fake.calls.pop()
    assert not [m for m in w.fake.messages if m.channel == BETA.channel], "Beta changed nothing, so nothing was said there"

    # tasks: each workspace sees its own lobby; the organisation's two workspaces share theirs
    alpha_status = await w.command(ALPHA, ALPHA.admin, "status lobby")
    beta_tasks = await w.command(BETA, BETA.admin, "tasks")
    grid_b_tasks = await w.command(GRID_B, GRID_B.operator, "tasks")
    assert "lobby" in alpha_status and "lobby" in beta_tasks and "lobby" in grid_b_tasks
    async with w.bot.deps.sessions() as session:
        from sqlalchemy import select

        from bot.store.models import AuditEvent, Grant, Task

        tasks = (await session.execute(select(Task.team_id, Task.alias))).all()
        grants = (await session.execute(select(Grant.team_id, Grant.subject_id))).all()
        teams = set((await session.execute(select(AuditEvent.team_id))).scalars().all())
    assert sorted(tasks) == [("E0GRID", "lobby"), ("T0ALPHA", "lobby"), ("T0BETA", "lobby")]
    assert sorted(grants) == [("E0GRID", GRID_B.operator), ("T0ALPHA", ALPHA.operator)]
    assert teams == {"E0GRID", "T0ALPHA", "T0BETA"}

    # grants: Beta's listing shows none of Alpha's; Alpha's operator has no role in Beta
    beta_grants = await w.command(BETA, BETA.admin, "grants")
    assert ALPHA.operator not in beta_grants and GRID_B.operator not in beta_grants
    refused = await w.command(BETA, ALPHA.operator, "ingest lobby volume=10")
    assert "Not allowed" in refused

    # audit: admins only; each admin's CSV holds its own tenant's events only, and opens with the csv module
    assert "Not allowed" in await w.command(ALPHA, ALPHA.operator, "audit lobby")
    assert not [m for m in w.fake.messages if m.channel == f"D{ALPHA.operator}"], "nothing sent to a non-admin"
    for place, tenant in ((ALPHA, "T0ALPHA"), (BETA, "T0BETA"), (GRID_A, "E0GRID")):
        answer = await w.command(place, place.admin, "audit lobby since=1d")
        assert "direct messages" in answer, answer
        rows = _csv_sent_to(w, place.admin)
        assert rows and {r["team_id"] for r in rows} == {tenant}
        assert {"task.add"} <= {r["action"] for r in rows}
    alpha_rows = _csv_sent_to(w, ALPHA.admin)
    assert any(r["action"] == "change.apply" or r["outcome"] == "applied" for r in alpha_rows), alpha_rows
    assert not any(r["outcome"] == "applied" for r in _csv_sent_to(w, BETA.admin))


def _csv_sent_to(w: Workspaces, user: str) -> list[dict[str, str]]:
    """The rows of the last CSV file uploaded into `user`'s direct messages."""
    dm = f"D{user}"
    sent = [m for m in w.fake.messages if m.channel == dm and m.files]
    assert sent, f"no file in {dm}"
    data = w.fake.uploads[sent[-1].files[0]["id"]]["data"]
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


async def _settled(w: Workspaces) -> None:
    for _ in range(400):
        await w.bot.backlog.drain()
        w.bot.deps.signals.deliver.set()
        await asyncio.sleep(0.02)
        if await w.bot.settled():
            return
    raise AssertionError("the bot's work did not finish")


async def test_tokens_are_encrypted_at_rest_rotate_and_go_on_uninstall(workspaces: Workspaces) -> None:
    w = workspaces
    for place in (ALPHA, BETA, GRID_A):
        assert (await w.install(place)).status_code == 200
    issued = {tenant: w.fake.tokens_of(tenant)[0] for tenant in ("T0ALPHA", "T0BETA", "E0GRID")}
    for table in ("slack_installations", "slack_bots"):
        rows = w.raw_tokens(table)
        assert len(rows) == 3
        for team, enterprise, stored in rows:
            token = issued[str(enterprise if team is None else team)]
            assert token not in stored and "xoxb" not in stored, "the row holds ciphertext, not the token"
            assert Fernet(KEY_OLD.encode()).decrypt(stored.encode()).decode() == token

    # rotation: new key first, the old one still decrypts; re-encryption leaves only the new key needed
    w.bot.settings.token_keys = None  # the running bot keeps its own box; this test rotates the rows
    from cryptography.fernet import MultiFernet

    rotated = await reencrypt(w.bot.engine, MultiFernet([Fernet(KEY_NEW.encode()), Fernet(KEY_OLD.encode())]))
    assert rotated == 6
    for _team, _enterprise, stored in w.raw_tokens():
        Fernet(KEY_NEW.encode()).decrypt(stored.encode())
        with pytest.raises(InvalidToken):
            Fernet(KEY_OLD.encode()).decrypt(stored.encode())

    # app_uninstalled from Beta: Beta's rows go, the others stay
    w.fake.uninstall("T0BETA")
    answer = await w.driver(BETA).event(w.driver(BETA).event_body({"type": "app_uninstalled"}))
    assert answer.status_code == 200
    await wait_for(lambda: all(r[0] != "T0BETA" for r in w.raw_tokens()), "Beta's tokens deleted")
    assert sorted(str(r[0] or r[1]) for r in w.raw_tokens()) == ["E0GRID", "T0ALPHA"]
    assert sorted(str(r[0] or r[1]) for r in w.raw_tokens("slack_bots")) == ["E0GRID", "T0ALPHA"]

    # tokens_revoked for the organisation's bot token: its rows go too
    grid = w.driver(GRID_A)
    revoked = await grid.event(grid.event_body({"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}}))
    assert revoked.status_code == 200
    await wait_for(lambda: all(r[1] != "E0GRID" for r in w.raw_tokens()), "the organisation's tokens deleted")
    assert [str(r[0]) for r in w.raw_tokens()] == ["T0ALPHA"]


def test_the_manifest_asks_for_the_scopes_the_install_flow_asks_for() -> None:
    from bot.slack_install import BOT_SCOPES

    manifest = (Path(__file__).parents[2] / "app.yaml").read_text()
    block = manifest.split("bot:", 1)[1].split("settings:", 1)[0]
    listed = [line.strip().removeprefix("- ").strip() for line in block.splitlines() if line.strip().startswith("- ")]
    assert sorted(listed) == sorted(BOT_SCOPES)
