"""`rtcops demo`: the whole product on this machine, walking a first change end to end.

Nothing is mocked inside the bot: it is the app `rtcops serve` runs (same start-up, same Bolt app, same
services and store), reached over real signed HTTP on 127.0.0.1. Only what lies outside it is local: the
provider simulators, a stand-in for Slack's Web API, and a throwaway SQLite file. The demo reads none of the
environment or .env, so a half-configured machine cannot make it talk to a real workspace or cloud account.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.config import Settings
from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.examples import APP_ID, ROOM_ID, TASK_ID, side_by_side_start
from bot.sandbox.serve import serve_in_loop
from bot.sandbox.slack_api import FakeSlack, Message
from bot.sandbox.slack_driver import NotSeen, SlackDriver, plain_text, readable, wait_for

TEAM = "T0DEMO"
ADMIN, OPERATOR, APPROVER = "U0ANA0ADMIN", "U0OLGA00OPS", "U0ARNO00APR"
USERS = {ADMIN: "ana", OPERATOR: "olga", APPROVER: "arno"}
REQUESTS, FINALS_OPS, NOTIFY = "C0RTCREQUESTS", "C0FINALSOPS", "C0RTCNOTIFY"
CHANNELS = {REQUESTS: "rtc-requests", FINALS_OPS: "finals-ops", NOTIFY: "rtc-notify"}
# Made up for the stand-in, valid nowhere else; never printed all the same.
BOT_TOKEN = "xoxb-demo-bot-token"  # noqa: S105
SIGNING_SECRET = "demo-signing-secret-not-a-real-one"  # noqa: S105

SDK_APP_ID = 1400000001
SIDE_BY_SIDE: dict[str, Any] = side_by_side_start()  # host and guest, 1280x720
INGEST: dict[str, Any] = {
    "SdkAppId": SDK_APP_ID,
    "RoomId": "lobby",
    "RoomIdType": 0,
    "UserId": "ingest-lobby",
    "UserSig": "demo-user-sig",
    "StreamUrl": "https://media.example.com/lobby-loop.mp4",
}


class StepFailed(Exception):
    """A walkthrough step did not see what it should have; the message says what, in one line."""


class DemoSettings(Settings):
    """Settings from the constructor only: no environment variables, no .env."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


@dataclass
class Stack:
    slack: SlackDriver
    fake: FakeSlack
    deps: Any
    slack_url: str
    volc_url: str
    tencent_url: str
    volc: volcengine_sim.VolcengineState
    tencent: tencent_sim.TencentState
    database_url: str


@contextlib.asynccontextmanager
async def local_stack(database_url: str) -> AsyncIterator[Stack]:
    """Simulators, the Slack stand-in, a migrated database and the bot, each on its own loopback port."""
    from bot import app as bot_app
    from bot.server import create_server
    from bot.store.engine import create_engine
    from bot.store.schema import upgrade

    fake = FakeSlack(bot_token=BOT_TOKEN, team_id=TEAM, users=USERS, channels=CHANNELS)
    volc_config = volcengine_sim.VolcengineSimConfig()
    volc_app, volc_state = volcengine_sim.create_volcengine_sim(volc_config)
    tencent_app, tencent_state = tencent_sim.create_tencent_sim(site="intl")
    async with serve_in_loop(fake.app) as slack_url, serve_in_loop(volc_app) as volc_url, serve_in_loop(tencent_app) as tc_url:
        fake.base_url = slack_url
        settings = DemoSettings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=f"{slack_url}/api/",
            database_url=database_url,
            admin_users=ADMIN,
            notify_channel=NOTIFY,
            volc_accesskey=volcengine_sim.DEFAULT_ACCESS_KEY,
            volc_secretkey=volcengine_sim.DEFAULT_SECRET_KEY,
            volcengine_endpoint=volc_url,
            volcengine_region=volc_config.region,
            tencentcloud_secret_id=tencent_sim.DEFAULT_SECRET_ID,
            tencentcloud_secret_key=tencent_sim.DEFAULT_SECRET_KEY,
            tencent_endpoint=tc_url,
            tencent_site="intl",
            log_level="WARNING",
            watch_interval_seconds=0.5,  # the demo's two live tasks are read twice a second, so alerts come at once
        )
        engine = create_engine(database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        bot = await bot_app.start(settings)
        bot.start_loops()
        try:
            server = create_server(bot.app, provider_events=bot.provider_events)
            async with serve_in_loop(server) as bot_url, SlackDriver(bot_url, SIGNING_SECRET, fake, team=TEAM) as slack:
                yield Stack(slack, fake, bot.deps, slack_url, volc_url, tc_url, volc_state, tencent_state, database_url)
        finally:
            await bot_app.stop(bot)


def _echo(text: str = "") -> None:
    click.echo(text)


def _indented(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


class Walkthrough:
    """The steps, in order; each says what it does, does it over HTTP, and checks what came back."""

    def __init__(self, stack: Stack, out: Path) -> None:
        self.s = stack
        self.slack = stack.slack
        self.out = out
        self.step_name = "start-up"
        self.tencent_task = ""

    def step(self, number: int, title: str) -> None:
        self.step_name = f"step {number} ({title})"
        _echo()
        _echo(f"{number}. {title}")

    def show(self, message: Message | str, prefix: str = "    ") -> None:
        text = message if isinstance(message, str) else plain_text(message.blocks, message.text)
        _echo(_indented(readable(text, USERS), prefix))

    async def wait(self, check: Callable[[], Any], what: str) -> Any:
        try:
            return await wait_for(check, what, seconds=20.0)
        except NotSeen as exc:
            raise StepFailed(str(exc)) from None

    # -- talking ------------------------------------------------------------------------------------
    async def command(self, user: str, text: str) -> None:
        _echo(f"  {USERS[user]} types: /rtc {readable(text, USERS)}")
        response = await self.slack.command(user, text, REQUESTS)
        if response.status_code != 200:
            raise StepFailed(f"the bot answered HTTP {response.status_code} to /rtc {text}")

    async def ask(self, user: str, text: str, expect: str) -> str:
        """A command answered privately (through the response_url); returns the answer as read."""
        seen = len(self.s.fake.ephemerals_for(user))
        await self.command(user, text)
        new = await self.wait(lambda: self.s.fake.ephemerals_for(user)[seen:], f"the bot's answer to /rtc {text}")
        answer = plain_text(new[0].blocks, new[0].text)
        _echo(f"  the bot answers {USERS[user]} (only they see it):")
        self.show(answer, "    │ ")
        if expect not in answer:
            raise StepFailed(f"/rtc {readable(text, USERS)} was answered with: {readable(answer, USERS)[:200]}")
        return answer

    async def propose(self, user: str, text: str, *, show: bool = True) -> Message:
        seen = len(self.slack.request_messages(REQUESTS))
        await self.command(user, text)
        found = await self.wait(lambda: self.slack.request_messages(REQUESTS)[seen:], f"the request message for /rtc {text}")
        message: Message = found[0]
        if show:
            _echo(f"  the bot posts a request in #{CHANNELS[REQUESTS]}:")
            self.show(message, "    │ ")
        return message

    async def outcome(self, parent: Message) -> Message:
        found = await self.wait(
            lambda: [m for m in self.slack.thread(parent) if "RequestId" in plain_text(m.blocks, m.text)],
            "the outcome in the thread",
        )
        await self.wait(lambda: self._settled(parent), "the request message to show its final state")
        return found[0]  # type: ignore[no-any-return]

    @staticmethod
    def _settled(parent: Message) -> bool:
        text = plain_text(parent.blocks, parent.text).lower()
        return not any(b["type"] == "actions" for b in parent.blocks) and ("applied" in text or "failed" in text)

    def show_thread(self, parent: Message) -> None:
        _echo("  the thread under the request:")
        for reply in self.slack.thread(parent):
            if reply.files:
                names = ", ".join(f["name"] for f in reply.files)
                self.show(f"[picture: {names}] {reply.text}".rstrip(), "    │ ")
            else:
                self.show(reply, "    │ ")

    # -- the steps ----------------------------------------------------------------------------------
    async def run(self) -> None:
        await self.tasks_in_the_simulators()
        await self.admin_sets_up()
        parent = await self.operator_proposes_a_layout()
        await self.self_approval_is_refused(parent)
        await self.approver_approves(parent)
        await self.ingest_applies_at_once()
        await self.history_and_rollback()
        await self.a_push_fails_and_recovers()
        await self.a_drift_is_restored()

    async def tasks_in_the_simulators(self) -> None:
        self.step(1, "Two live tasks are running at the (simulated) providers")
        started = await self.s.deps.providers.volcengine.start_push_mixed_stream_to_cdn(SIDE_BY_SIDE)
        _echo(f"  Volcengine RTC: mixed push {TASK_ID} in room {ROOM_ID}, host and guest side by side, 1280x720")
        _echo(f"    StartPushMixedStreamToCDN accepted, RequestId {started.request_id}")
        ingest = await self.s.deps.providers.tencent().start_stream_ingest(INGEST)
        self.tencent_task = ingest.result.task_id
        _echo(f"  Tencent TRTC: stream ingest {self.tencent_task} into room lobby, from {INGEST['StreamUrl']}")
        _echo(f"    StartStreamIngest accepted, RequestId {ingest.request_id}")

    async def admin_sets_up(self) -> None:
        self.step(2, "ana, the admin named in RTCOPS_ADMIN_USERS, registers both tasks and hands out roles")
        await self.ask(
            ADMIN,
            f"task add volcengine finals {APP_ID} {ROOM_ID} {TASK_ID} canvas=1280x720 channel=<#{FINALS_OPS}|finals-ops>",
            "registered",
        )
        await self.ask(ADMIN, f"task add tencent lobby {SDK_APP_ID} {self.tencent_task}", "registered")
        await self.ask(ADMIN, f"grant <@{OPERATOR}|olga> operator", "is now")
        await self.ask(ADMIN, f"grant <@{APPROVER}|arno> approver", "is now")

    async def operator_proposes_a_layout(self) -> Message:
        self.step(3, "olga, an operator, asks for picture-in-picture on the finals")
        parent = await self.propose(OPERATOR, "layout finals pip host,guest")
        if not any(b["type"] == "actions" for b in parent.blocks):
            raise StepFailed("the layout request has no Approve button")
        pictures = await self.wait(lambda: [m for m in self.slack.thread(parent) if m.files], "the before/after picture")
        picture = pictures[0].files[0]
        data = self.slack.uploaded_file(picture["id"])
        if not data or not data.startswith(b"\x89PNG"):
            raise StepFailed("the uploaded preview is not a PNG")
        self.out.write_bytes(data)
        _echo(f"  the bot uploads the before/after picture into the thread: {picture['title']}")
        _echo(f"    saved to {self.out} ({len(data)} bytes)")
        waiting = await self.wait(lambda: [m for m in self.slack.thread(parent) if "Waiting" in m.text], "the approvers' mention")
        self.show(waiting[0], "    │ ")
        return parent

    async def self_approval_is_refused(self, parent: Message) -> None:
        self.step(4, "olga clicks Approve on her own request")
        seen = len(self.s.fake.ephemerals_for(OPERATOR))
        response = await self.slack.click(OPERATOR, parent, "rtc_approve")
        if response.status_code != 200:
            raise StepFailed(f"the bot answered HTTP {response.status_code} to the click")
        refusal = await self.wait(lambda: self.s.fake.ephemerals_for(OPERATOR)[seen:], "the refusal")
        text = plain_text(refusal[0].blocks, refusal[0].text)
        _echo("  the bot refuses, to olga only:")
        self.show(text, "    │ ")
        if "Not allowed" not in text:
            raise StepFailed(f"expected a refusal, got: {readable(text, USERS)[:200]}")
        if not any(b["type"] == "actions" for b in parent.blocks):
            raise StepFailed("the request lost its buttons although the approval was refused")
        if self.s.volc.requests.all(volcengine_sim.UPDATE):
            raise StepFailed("the provider was called although the approval was refused")
        _echo("  nothing was sent to Volcengine; the request still waits for someone else")

    async def approver_approves(self, parent: Message) -> None:
        self.step(5, "arno, an approver, clicks Approve")
        response = await self.slack.click(APPROVER, parent, "rtc_approve")
        if response.status_code != 200:
            raise StepFailed(f"the bot answered HTTP {response.status_code} to the click")
        outcome = await self.outcome(parent)
        self.show_thread(parent)
        updates = self.s.volc.requests.all(volcengine_sim.UPDATE)
        if len(updates) != 1 or updates[0].request_id not in plain_text(outcome.blocks):
            raise StepFailed(f"expected one UpdatePushMixedStreamToCDN whose RequestId is in the thread, saw {len(updates)}")
        _echo("  the request message now reads:")
        self.show(parent, "    │ ")
        line = await self.wait(lambda: self.s.fake.channel_messages(FINALS_OPS), "the line in #finals-ops")
        _echo(f"  #{CHANNELS[FINALS_OPS]} gets one line:")
        self.show(line[0].text, "    │ ")

    async def ingest_applies_at_once(self) -> None:
        self.step(6, "olga turns the lobby ingest down and pauses it: no approval needed for volume and pause")
        parent = await self.propose(OPERATOR, "ingest lobby volume=40 pause", show=False)
        await self.outcome(parent)
        _echo(f"  the bot posts the request in #{CHANNELS[REQUESTS]} and applies it straight away:")
        self.show(parent, "    │ ")
        self.show_thread(parent)
        task = self.s.tencent.task(SDK_APP_ID, self.tencent_task)
        if task is None or task.volume != 40 or task.is_pause is not True:
            raise StepFailed("the Tencent simulator does not show volume 40 and paused")
        _echo(f"  the Tencent simulator now reports the ingest at volume {task.volume}, paused")

    async def history_and_rollback(self) -> None:
        self.step(7, "olga looks at the history of the finals")
        await self.ask(OPERATOR, "history finals", "version 2")
        self.step(8, "olga proposes going back to version 1, and arno approves")
        parent = await self.propose(OPERATOR, "rollback finals 1")
        _echo("  arno approves it")
        response = await self.slack.click(APPROVER, parent, "rtc_approve")
        if response.status_code != 200:
            raise StepFailed(f"the bot answered HTTP {response.status_code} to the click")
        outcome = await self.outcome(parent)
        self.show(outcome, "    │ ")
        if "Applied" not in plain_text(outcome.blocks):
            raise StepFailed("the rollback was not applied")
        updates = self.s.volc.requests.all(volcengine_sim.UPDATE)
        if _regions(json.loads(updates[-1].body)) != _regions(SIDE_BY_SIDE):
            raise StepFailed("the rollback did not send the side-by-side layout of version 1")
        _echo(f"  Volcengine received {len(updates)} updates in all; the finals are side by side again")

    # -- watching -------------------------------------------------------------------------------------
    def alerts(self) -> list[Message]:
        return [m for m in self.s.fake.channel_messages(FINALS_OPS) if "incident #" in plain_text(m.blocks, m.text)]

    async def click(self, user: str, message: Message, action: str) -> None:
        _echo(f"  {USERS[user]} clicks {_button_text(message, action)}")
        response = await self.slack.click(user, message, action)
        if response.status_code != 200:
            raise StepFailed(f"the bot answered HTTP {response.status_code} to the click")

    async def a_push_fails_and_recovers(self) -> None:
        self.step(9, "The CDN drops the finals push; nobody touched anything, and rtcops tells #finals-ops")
        self.s.volc.set_task_health(APP_ID, ROOM_ID, TASK_ID, status=4, stop_reason="PushStreamFailed")
        _echo("  (the Volcengine simulator now reports Status 4, StopReason PushStreamFailed)")
        alert = (await self.wait(self.alerts, "the alert in #finals-ops"))[0]
        _echo(f"  the bot posts in #{CHANNELS[FINALS_OPS]}:")
        self.show(alert, "    │ ")
        await self.click(OPERATOR, alert, "rtc_incident_ack")
        await self.wait(lambda: OPERATOR in json.dumps(alert.blocks), "the acknowledgement in the alert")
        self.s.volc.recover_task(APP_ID, ROOM_ID, TASK_ID)
        _echo("  (the push is back: Status 2, pushing)")
        await self.wait(lambda: "recovered after" in plain_text(alert.blocks), "the alert to say it recovered")
        _echo("  the same message now reads (nothing new is posted):")
        self.show(alert, "    │ ")
        if len(self.alerts()) != 1:
            raise StepFailed(f"expected one alert in #finals-ops, saw {len(self.alerts())}")

    async def a_drift_is_restored(self) -> None:
        self.step(10, "Someone swaps the finals layout from another tool; arno restores it through approval")
        regions = copy.deepcopy(SIDE_BY_SIDE["Layout"])
        parts = regions["CustomLayout"]["Regions"]
        parts[0]["LocationX"], parts[1]["LocationX"] = 0.5, 0.0
        self.s.volc.drift_task(APP_ID, ROOM_ID, TASK_ID, {"Layout": regions})
        _echo("  (another tool's Update swaps host and guest)")
        alert = (await self.wait(lambda: self.alerts()[1:], "the drift alert"))[0]
        _echo(f"  the bot posts in #{CHANNELS[FINALS_OPS]}, with the before/after picture in its thread:")
        self.show(alert, "    │ ")
        seen = len(self.slack.request_messages(FINALS_OPS))
        restore = next(a for a in _actions(alert) if a.startswith("Restore"))
        await self.click(APPROVER, alert, "rtc_incident_restore")
        request = (await self.wait(lambda: self.slack.request_messages(FINALS_OPS)[seen:], f"the {restore} request"))[0]
        _echo("  the bot posts the rollback for approval, where the button was:")
        self.show(request, "    │ ")
        await self.click(ADMIN, request, "rtc_approve")
        await self.outcome(request)
        await self.wait(lambda: "recovered after" in plain_text(alert.blocks), "the drift alert to say it recovered")
        _echo("  applied; the drift alert now reads:")
        self.show(alert, "    │ ")
        task = self.s.volc.task(APP_ID, ROOM_ID, TASK_ID)
        if task is None or _regions({"Layout": task.config["Layout"]}) != _regions(SIDE_BY_SIDE):
            raise StepFailed("the simulator does not show the side-by-side layout again")


def _actions(message: Message) -> list[str]:
    return [e["text"]["text"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


def _button_text(message: Message, action: str) -> str:
    for block in message.blocks:
        for element in block.get("elements") or []:
            if block["type"] == "actions" and element.get("action_id") == action:
                return str(element["text"]["text"])
    raise StepFailed(f"the message has no {action} button")


def _regions(body: dict[str, Any]) -> list[tuple[float, ...]]:
    keys = ("LocationX", "LocationY", "WidthProportion", "HeightProportion")
    return [tuple(float(r.get(k, 0.0)) for k in keys) for r in body["Layout"]["CustomLayout"]["Regions"]]


def _closing(stack: Stack, keep_serving: bool) -> list[str]:
    lines = [
        "",
        "Done: a layout change proposed, refused to its own author, approved, applied once; an ingest change applied",
        "at once; a rollback approved and applied; a failed push told and recovered in one message; a layout changed",
        "behind rtcops' back, told and restored. Everything went through signed HTTP to the real bot.",
        "",
        "What ran:",
        f"  the bot (rtcops serve)   {stack.slack.events_url}",
        f"  Slack Web API stand-in   {stack.slack_url}/api/",
        f"  Volcengine RTC simulator {stack.volc_url}",
        f"  Tencent TRTC simulator   {stack.tencent_url}",
        f"  database                 {stack.database_url}",
    ]
    if keep_serving:
        lines += [
            "",
            "While this runs, call the simulators with the provider CLI from another shell:",
            f"  export VOLC_ACCESSKEY={volcengine_sim.DEFAULT_ACCESS_KEY} VOLC_SECRETKEY={volcengine_sim.DEFAULT_SECRET_KEY}",
            f"  export RTCOPS_VOLCENGINE_ENDPOINT={stack.volc_url}",
            f"  rtcops provider volcengine get --app-id {APP_ID} --room-id {ROOM_ID} --task-id {TASK_ID}",
            f"  DATABASE_URL={stack.database_url} rtcops audit --team {TEAM} --task finals",
        ]
    lines += [
        "",
        "To run rtcops against your own Slack workspace (still with simulated providers):",
        "  rtcops sandbox providers          # prints the provider settings to paste",
        "  export SLACK_BOT_TOKEN=xoxb-… SLACK_SIGNING_SECRET=… RTCOPS_ADMIN_USERS=<your member ID>",
        "  rtcops db upgrade && rtcops serve --port 3000   # see README: Setting up Slack",
    ]
    lines.append("" if not keep_serving else "\nServing until Ctrl-C.")
    return lines


async def _until_interrupted() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _demo(database_url: str | None, out: Path, keep_serving: bool) -> str | None:
    """Returns None after a clean walkthrough, else the one line that says what failed."""
    with tempfile.TemporaryDirectory(prefix="rtcops-demo-") as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'rtcops.db'}"
        walk: Walkthrough | None = None
        try:
            async with local_stack(url) as stack:
                _echo("rtcops demo: the real bot, local provider simulators, a stand-in for Slack, and a fresh database.")
                _echo(f"People: ana (admin), olga (operator), arno (approver). Requests go to #{CHANNELS[REQUESTS]}.")
                walk = Walkthrough(stack, out)
                await walk.run()
                for line in _closing(stack, keep_serving):
                    _echo(line)
                if keep_serving:
                    await _until_interrupted()
                    _echo("demo stopped")
        except StepFailed as exc:
            return f"{walk.step_name if walk else 'start-up'}: {exc}"
        except Exception as exc:
            where = walk.step_name if walk else "start-up"
            return f"{where}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}"
    return None


def _fail(line: str) -> NoReturn:
    click.echo(f"demo failed at {line}", err=True)
    sys.exit(1)


@click.command()
@click.option("--exit", "exit_after", is_flag=True, help="Stop after the walkthrough instead of serving until Ctrl-C.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=Path("rtcops-demo-preview.png"),
    show_default=True,
    help="Where to save the before/after picture the bot uploaded.",
)
@click.option("--database-url", help="Use this database instead of a SQLite file in a temporary directory (must be empty).")
def demo(exit_after: bool, out: Path, database_url: str | None) -> None:
    """Run the whole product locally (no Slack workspace, no cloud account) and walk a first change end to end."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    # Bolt reads these itself when an app is built; the demo must not see a real workspace's tokens at all.
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL"):
        os.environ.pop(name, None)
    failure = asyncio.run(_demo(database_url, out.resolve(), keep_serving=not exit_after))
    if failure is not None:
        _fail(failure)
