"""The whole bot on loopback: uvicorn serving `build_app`, the fake Slack Web API, both provider
simulators and a real SQLite store, all on 127.0.0.1 with port 0. Requests go in signed, exactly as Slack
sends them; everything the bot says comes out through the fake Web API, which checks it as Slack would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_support import BOT_TOKEN, GROUPS, NOTIFY_CHANNEL, REQUEST_CHANNEL, SIGNING_SECRET, TEAM, USERS, Env

from bot import app as bot_app
from bot.config import Settings
from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.serve import serve_in_loop
from bot.sandbox.slack_api import FakeSlack
from bot.server import create_server
from bot.store.engine import create_engine
from bot.store.schema import upgrade

REFUSALS_EXPECTED = "slack_refusals_expected"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{REFUSALS_EXPECTED}: the test provokes Web API refusals on purpose, so the env fixture does not fail it for them",
    )
    config.addinivalue_line("markers", "settings(**values): Settings the env fixture's bot runs with, over its defaults")


@pytest.fixture
async def env(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    """The bot on loopback. At teardown, once the bot's post-acknowledgement work has finished, the test fails
    if the fake Web API refused any call (a bot bug Slack would refuse too), unless it is marked
    slack_refusals_expected."""
    refused: list[tuple[str, str | None, dict[str, Any]]] = []
    fake = FakeSlack(
        bot_token=BOT_TOKEN,
        team_id=TEAM,
        users=USERS,
        usergroups=GROUPS,
        channels={REQUEST_CHANNEL: "rtc-requests", NOTIFY_CHANNEL: "rtc-notify", "CTASKNOTE": "finals-notify"},
    )
    volc_app, volc_state = volcengine_sim.create_volcengine_sim()
    tencent_app, tencent_state = tencent_sim.create_tencent_sim(site="intl")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'rtcops.db'}")
    await upgrade(engine)
    async with serve_in_loop(fake.app) as slack_url, serve_in_loop(volc_app) as volc_url, serve_in_loop(tencent_app) as tc_url:
        fake.base_url = slack_url
        settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=f"{slack_url}/api/",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'rtcops.db'}",
            admin_users="UADMIN",
            notify_channel=NOTIFY_CHANNEL,
            volc_accesskey=volcengine_sim.DEFAULT_ACCESS_KEY,
            volc_secretkey=volcengine_sim.DEFAULT_SECRET_KEY,
            volcengine_endpoint=volc_url,
            tencentcloud_secret_id=tencent_sim.DEFAULT_SECRET_ID,
            tencentcloud_secret_key=tencent_sim.DEFAULT_SECRET_KEY,
            tencent_endpoint=tc_url,
            tencent_site="intl",
            # The watcher does not poll unless a test asks (settings(watch_read_share=…)): tests that count the
            # provider calls a command makes would otherwise count its reads too.
            **{"watch_read_share": 0.0, **(marker.kwargs if (marker := request.node.get_closest_marker("settings")) else {})},
        )  # type: ignore[call-arg]
        bot = await bot_app.start(settings)
        bot.start_loops()
        try:
            server = create_server(bot.app, provider_events=bot.provider_events)
            async with serve_in_loop(server) as bot_url, httpx.AsyncClient(timeout=30) as http:
                driver = Env(bot_url, fake, volc_state, tencent_state, bot, http)
                yield driver
                await driver.settled()
                refused = driver.refusals()
        finally:
            await bot_app.stop(bot)
    await engine.dispose()
    if refused and request.node.get_closest_marker(REFUSALS_EXPECTED) is None:
        pytest.fail(f"the fake Slack Web API refused calls the bot made: {refused}", pytrace=False)
