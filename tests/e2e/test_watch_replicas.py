"""Two `rtcops serve` replicas on one PostgreSQL database watch the same tasks: each incident is posted once and
recovered in that same message, whichever replica polled or received the callback, and neither replica's log
holds a secret or the callback key."""

from __future__ import annotations

import asyncio
import time

import pytest
from bots import NOTIFY, SDK_APP_ID, SECRET, TEAM, TOKEN, World, start_tasks, until
from test_outcomes import pg_world  # noqa: F401  (the fixture: a throwaway PostgreSQL database)

from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.examples import APP_ID, ROOM_ID, TASK_ID
from bot.sandbox.sim_callbacks import RetryPolicy
from bot.sandbox.slack_api import Message
from bot.sandbox.slack_driver import plain_text

KEY = "e2e-trtc-callback-key-0123456789"
WATCH = {
    "RTCOPS_WATCH_INTERVAL": "0.3",
    "RTCOPS_WATCH_FLAP_SECONDS": "60",
    "RTCOPS_TENCENT_CALLBACK_KEY": KEY,
}


def alerts(w: World, alias: str) -> list[Message]:
    found = [m for m in w.fake.channel_messages(NOTIFY) if "incident #" in plain_text(m.blocks, m.text)]
    return [m for m in found if f"{alias}:" in plain_text(m.blocks, m.text)]


@pytest.mark.postgres
async def test_two_replicas_post_each_incident_once_and_log_no_secret(pg_world: World) -> None:  # noqa: F811
    w = pg_world
    one, two = w.serve(**WATCH), w.serve(**WATCH)
    async with w.driver(one) as a:
        ingest = await start_tasks(w, a)
    urls = [f"{bot.url}/providers/tencent/events" for bot in (one, two)]
    w.tencent.set_callback(urls[0], KEY, SDK_APP_ID, RetryPolicy(timeout=2.0, retry_every=0.2, give_up_after=0.5))

    # The ingest fails; its callback reaches both replicas, twice each, at once; and a second report of the same
    # failure (another EventMsTs) follows: one incident, one message.
    stamp = int(time.time() * 1000)
    for url in urls:
        w.tencent.send_callback(SDK_APP_ID, 701, ingest, tencent_sim.START_FAILURE, event_ms=stamp, copies=2, url=url)
    w.tencent.send_callback(SDK_APP_ID, 701, ingest, tencent_sim.START_FAILURE, event_ms=stamp + 5, url=urls[1])
    w.tencent.send_callback(SDK_APP_ID, 701, ingest, tencent_sim.START_FAILURE, sign_with="forged", url=urls[1])
    # The push fails too; whichever replica leads the polling sees it.
    w.volc.set_task_health(APP_ID, ROOM_ID, TASK_ID, status=4, stop_reason="PushStreamFailed")

    lobby = (await until(lambda: alerts(w, "lobby"), "the ingest alert"))[0]
    finals = (await until(lambda: alerts(w, "finals"), "the push alert"))[0]
    assert await asyncio.to_thread(w.tencent.callbacks.wait_idle, 20)
    statuses = [a.status for a in w.tencent.callbacks.attempts()]
    assert statuses.count(200) == 5 and set(statuses) == {200, 401}, statuses  # the forgery, and its retries, refused
    listed = w.cli("incidents", "--team", TEAM)
    assert listed.returncode == 0 and "lobby\tfailed" in listed.stdout and "finals\tfailed" in listed.stdout

    w.volc.recover_task(APP_ID, ROOM_ID, TASK_ID)
    assert w.tencent.set_ingest_state(SDK_APP_ID, ingest, "running")
    for message in (lobby, finals):
        await until(lambda m=message: "recovered after" in plain_text(m.blocks), "the alert saying it recovered")
    await asyncio.sleep(1.0)  # three polls: anything said twice would be said by now
    assert alerts(w, "lobby") == [lobby] and alerts(w, "finals") == [finals]
    assert "no open incidents" in w.cli("incidents", "--team", TEAM).stderr
    assert w.cli("watch", "--team", TEAM, "lobby", "off").stdout.strip() == "lobby: not watched"

    for bot in (one, two):
        bot.stop()
        log = bot.output()
        for secret in (KEY, SECRET, TOKEN, volcengine_sim.DEFAULT_SECRET_KEY, tencent_sim.DEFAULT_SECRET_KEY):
            assert secret not in log
    assert all("tencent events from 127.0.0.1: " in bot.output() for bot in (one, two))  # both took the event
    assert "Sign does not match the body" in two.output()
