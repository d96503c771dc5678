"""Issue 15 over real `rtcops serve` processes: a wrong token stops serve with one line; JSON logs at DEBUG, every
line an object and no secret in any (OAuth mode, Bolt's and slack_sdk's own lines included); /metrics parses and
has every metric the README lists; the periodic jobs' owner is killed and the other replica carries on within one
lease period (PostgreSQL); Socket Mode serves /healthz, /readyz, /metrics and drains on SIGTERM as HTTP does."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from bots import (
    ADMIN,
    APPROVER,
    OPERATOR,
    RTCOPS,
    SDK_APP_ID,
    SECRET,
    TEAM,
    TOKEN,
    World,
    postgres_database,
    start_tasks,
    until,
    world,
)
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from bot.sandbox import tencent_sim, volcengine_sim
from bot.sandbox.slack_driver import LEGACY_TOKEN
from bot.sandbox.slack_signing import command_body, signed_headers

ROOT = Path(__file__).parents[2]
CLIENT_ID, CLIENT_SECRET = "3333333333.4444444444", "e2e-oauth-client-secret-9876543210"
TOKEN_KEY = Fernet.generate_key().decode()
APPROVE = "rtc_approve"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- start-up ----------------------------------------------------------------------------------------------


def test_a_wrong_slack_token_stops_serve_with_one_line(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        done = subprocess.run(
            [RTCOPS, "serve", "--port", str(_port())],
            env=w.env(SLACK_BOT_TOKEN="xoxb-wrong-token-000", RTCOPS_LOG_FORMAT="json"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == ["error: Slack refused SLACK_BOT_TOKEN: auth.test answered invalid_auth"]
    assert [c.error for c in w.fake.calls_to("auth.test")] == ["invalid_auth"]


# --- one run in several-workspace mode, observed: its logs, its metrics ---------------------------------------


@dataclass
class Observed:
    log: str
    metrics: str
    ready: dict[str, Any]
    secrets: dict[str, str]


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    """`rtcops serve` with SLACK_CLIENT_ID (installed through the fake's OAuth flow), RTCOPS_LOG_FORMAT=json and
    RTCOPS_LOG_LEVEL=DEBUG: an install, tasks registered, a layout change proposed, approved and applied, an
    ingest change, a forged request carrying a legacy token and a response_url, a signed request no listener
    takes; then /metrics and /readyz are read and the process is stopped with SIGTERM."""
    tmp = tmp_path_factory.mktemp("observed")
    with world(tmp) as w:
        w.fake.enable_oauth(CLIENT_ID, CLIENT_SECRET)
        oauth = {
            "SLACK_CLIENT_ID": CLIENT_ID,
            "SLACK_CLIENT_SECRET": CLIENT_SECRET,
            "RTCOPS_TOKEN_KEYS": TOKEN_KEY,
            "RTCOPS_LOG_FORMAT": "json",
            "RTCOPS_LOG_LEVEL": "DEBUG",
        }
        bot = w.serve(**oauth)
        w.fake.oauth_redirect_uri = f"{bot.url}/slack/oauth_redirect"
        with httpx.Client(timeout=30) as http:
            start = http.get(f"{bot.url}/slack/install", params={"team": TEAM})
            cookie = start.headers["set-cookie"].split(";")[0]
            allowed = http.get(httpx.URL(start.headers["location"]).copy_merge_params({"user": ADMIN}))
            finished = http.get(allowed.headers["location"], headers={"cookie": cookie})
            assert finished.status_code == 200, finished.text
        w.fake.uninstall(TEAM)  # every token so far (the world's SLACK_BOT_TOKEN): only an installed one may speak
        w.fake.tokens[TOKEN].revoked = True
        with httpx.Client(timeout=30) as http:
            start = http.get(f"{bot.url}/slack/install", params={"team": TEAM})
            cookie = start.headers["set-cookie"].split(";")[0]
            allowed = http.get(httpx.URL(start.headers["location"]).copy_merge_params({"user": ADMIN}))
            assert http.get(allowed.headers["location"], headers={"cookie": cookie}).status_code == 200
        installed = w.fake.tokens_of(TEAM)
        assert len(installed) == 1 and installed[0] != TOKEN

        async def scenario() -> None:
            async with w.driver(bot) as slack:
                await start_tasks(w, slack)
                seen = len(w.requests())
                assert (await slack.command(OPERATOR, "layout finals pip host,guest", "C0REQUESTS")).status_code == 200
                parent = (await until(lambda: w.requests()[seen:], "the request message"))[0]
                await until(lambda: any(b["type"] == "actions" for b in parent.blocks), "the Approve button")
                await slack.click(APPROVER, parent, APPROVE)
                await until(lambda: [t for t in w.thread_texts(parent) if "Applied* as version" in t], "applied")
                await slack.command(OPERATOR, "ingest lobby volume=40", "C0REQUESTS")
                await until(lambda: len(w.requests()) > seen + 1, "the ingest change")
                # forged: a body with the legacy token and a response_url, signed with the wrong secret
                fields = slack.command_fields(OPERATOR, "tasks", "C0REQUESTS")
                body = command_body(fields)
                forged = await slack.http.post(slack.events_url, content=body, headers=signed_headers("wrong-secret", body))
                assert forged.status_code == 401
                # signed, but no listener takes it: Bolt's "unhandled request" warning quotes the body
                unhandled = await slack.event(slack.event_body({"type": "reaction_added", "user": OPERATOR, "reaction": "+1"}))
                assert unhandled.status_code in (200, 404)
                await asyncio.sleep(1.0)  # the last deliveries

        asyncio.run(scenario())
        metrics = httpx.get(f"{bot.url}/metrics", timeout=10).text
        ready = httpx.get(f"{bot.url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        bot.stop()
        assert bot.proc.returncode == 0, bot.output()[-2000:]
        secrets = {
            "signing secret": SECRET,
            "client secret": CLIENT_SECRET,
            "token key": TOKEN_KEY,
            "installed bot token": installed[0],
            "unused SLACK_BOT_TOKEN": TOKEN,
            "legacy verification token": LEGACY_TOKEN,
            "Volcengine secret key": volcengine_sim.DEFAULT_SECRET_KEY,
            "Tencent secret key": tencent_sim.DEFAULT_SECRET_KEY,
        }
        for i, url in enumerate(re.findall(r"/commands/T0E2E/\d+/([0-9a-f]{24})", json.dumps([c.args for c in w.fake.calls]))):
            secrets[f"response_url {i}"] = url
        yield Observed(bot.output(), metrics, ready.json(), secrets)


def test_every_log_line_is_json_with_its_context_and_no_secret_at_debug(observed: Observed) -> None:
    lines = [line for line in observed.log.splitlines() if line.strip()]
    assert len(lines) > 100, "DEBUG, Bolt's and slack_sdk's lines included"
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line[:300]}") from None
    assert all(isinstance(p, dict) and {"timestamp", "level", "logger", "message"} <= set(p) for p in parsed)
    for name, secret in observed.secrets.items():
        leaked = [line for line in lines if secret in line]
        assert not leaked, f"the {name} is in {len(leaked)} line(s), e.g. {leaked[0][:300]}"
    loggers = {p["logger"] for p in parsed}
    assert any(name.startswith("slack_bolt") for name in loggers) and any(name.startswith("slack_sdk") for name in loggers)
    # one line per request handled, with who, where and what
    handled = [p for p in parsed if p["logger"] == "rtcops.requests"]
    commands = [p for p in handled if p.get("command") == "/rtc"]
    assert commands and all(p["team"] == TEAM and p.get("user") and p.get("channel") and p.get("request_id") for p in commands)
    clicks = [p for p in handled if p.get("action") == APPROVE]
    assert clicks and clicks[0]["user"] == APPROVER and clicks[0]["change_id"] == 1
    # one line per change transition, with the change id; the apply's lines carry the provider's RequestId
    moves = [p for p in parsed if p["logger"] == "rtcops.changes"]
    assert [p["message"].split(" ", 2)[2] for p in moves if p.get("change_id") == 1] == [
        "new -> pending", "pending -> approved", "approved -> applying", "applying -> applied"
    ]  # fmt: skip
    assert all(p["team"] == TEAM for p in moves)
    applied = next(p for p in moves if p["message"].endswith("-> applied") and p["change_id"] == 1)
    assert applied.get("provider_request_id"), applied
    # the refused and the unhandled requests: named, never quoted
    assert any(p["logger"] == "rtcops.server" and "signature does not match" in p["message"] for p in parsed)


def _readme_metrics() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Metrics", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `(rtcops_[a-z_]+)`", section, flags=re.MULTILINE)


def test_metrics_parse_and_hold_every_metric_the_readme_lists(observed: Observed) -> None:
    families = list(text_string_to_metric_families(observed.metrics))
    names = {f.name for f in families} | {f.name + "_total" for f in families if f.type == "counter"}
    listed = _readme_metrics()
    assert len(listed) >= 15
    missing = [m for m in listed if m not in names]
    assert not missing, f"listed in the README but not exposed: {missing}"
    ours = {f.name for f in families if f.name.startswith("rtcops_")}
    unlisted = [n for n in ours if n not in listed and n + "_total" not in listed]
    assert not unlisted, f"exposed but not listed in the README: {unlisted}"
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}
    assert samples[("rtcops_slack_requests_total", (("outcome", "ok"), ("type", "command")))] >= 6
    assert samples[("rtcops_slack_requests_total", (("outcome", "refused"), ("type", "unknown")))] >= 1
    assert samples[("rtcops_change_transitions_total", (("state", "applied"),))] == 2
    assert samples[("rtcops_changes", (("state", "applied"),))] == 2
    assert samples[("rtcops_outbox_depth", (("sink", "slack"),))] == 0
    code_ok = (
        "rtcops_provider_calls_total",
        (("action", "UpdatePushMixedStreamToCDN"), ("code", "OK"), ("provider", "volcengine")),
    )
    assert samples[code_ok] == 1
    assert samples[("rtcops_change_approval_to_verdict_seconds_count", (("state", "applied"),))] == 2


def test_readyz_names_every_part_it_checked(observed: Observed) -> None:
    assert observed.ready["ok"] is True and observed.ready["failing"] == []
    assert set(observed.ready["checks"]) == {"database", "slack", "volcengine", "tencent", "outbox"}


# --- one owner for time-driven work ---------------------------------------------------------------------------


LEASE_SECONDS = 4.0
JOBS = 4
"""The periodic jobs of `rtcops serve` without an audit webhook: applier, outbox, sweep, clock (schedules, reminders)."""


def _holders(db_url: str) -> dict[str, str]:
    async def read() -> dict[str, str]:
        dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            rows = await conn.fetch("SELECT name, holder FROM leases WHERE expires_at >= now()")
        finally:
            await conn.close()
        return {r["name"]: r["holder"] for r in rows}

    return asyncio.run(read())


def _metric(url: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


@pytest.mark.postgres
def test_the_owner_of_the_periodic_jobs_dies_and_the_other_replica_carries_on_within_one_lease_period(
    tmp_path: Path,
) -> None:
    with postgres_database("the lease hand-over test") as db_url, world(tmp_path, db_url) as w:
        lease = {"RTCOPS_LEASE_SECONDS": str(LEASE_SECONDS)}
        owner = w.serve(failpoints="after-approve-commit", **lease)
        until_sync(lambda: len(_holders(db_url)) == JOBS, "the first replica holds every job's lease")
        other = w.serve(**lease)
        pid = str(owner.proc.pid)
        time.sleep(LEASE_SECONDS)  # several renewals: the other replica tries and fails meanwhile
        assert all(f":{pid}:" in holder for holder in _holders(db_url).values())
        assert _metric(other.url, "rtcops_lease_held", job="applier") == 0
        assert _metric(other.url, "rtcops_scheduler_runs_total", job="sweep", trigger="timer") == 0
        assert _metric(owner.url, "rtcops_scheduler_runs_total", job="sweep", trigger="timer") >= 2

        async def approve_on_the_owner() -> None:
            async with w.driver(owner) as slack:
                await start_tasks(w, slack)
                seen = len(w.requests())
                await slack.command(OPERATOR, "layout finals pip host,guest", "C0REQUESTS")
                parent = (await until(lambda: w.requests()[seen:], "the request message"))[0]
                await until(lambda: any(b["type"] == "actions" for b in parent.blocks), "the Approve button")
                # the owner commits the approval and dies at once (kill -9 at that step), before applying
                await slack.click(APPROVER, parent, APPROVE)

        asyncio.run(approve_on_the_owner())
        owner.proc.wait(timeout=10)
        died = time.monotonic()
        assert owner.proc.returncode == -signal.SIGKILL
        assert not w.volc.requests.all(volcengine_sim.UPDATE), "the owner died before applying"
        until_sync(lambda: _metric(other.url, "rtcops_lease_held", job="applier") == 1, "the other replica's lease")
        taken = time.monotonic() - died
        until_sync(lambda: w.volc.requests.all(volcengine_sim.UPDATE), "the approved change applied by the other replica")
        applied = time.monotonic() - died
        print(
            f"lease taken over {taken:.2f} s, the change applied {applied:.2f} s after the owner died (lease {LEASE_SECONDS} s)"
        )
        assert taken <= LEASE_SECONDS, f"the lease was taken over {taken:.1f} s after the owner died"
        assert applied <= LEASE_SECONDS, f"the work went on {applied:.1f} s after the owner died"
        assert all(str(other.proc.pid) in holder for holder in _holders(db_url).values())
        until_sync(lambda: [t for t in w.thread_texts(w.requests()[-1]) if "Applied* as version" in t], "told in the thread")


def until_sync(check: Any, what: str, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for: {what}")
        time.sleep(0.05)


# --- Socket Mode ---------------------------------------------------------------------------------------------


def test_socket_mode_serves_health_readiness_metrics_and_drains_on_sigterm(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        app_token = f"xapp-1-A0FAKE-{uuid.uuid4().hex}"
        w.fake.enable_socket_mode(app_token)
        bot = w.serve(args=("--socket",), SLACK_APP_TOKEN=app_token)  # bots.serve waits for /healthz on --port
        until_sync(lambda: w.fake.socket_connected, "the Socket Mode connection")
        assert httpx.get(f"{bot.url}/readyz", timeout=10).json()["ok"] is True
        assert "rtcops_slack_requests_total" in httpx.get(f"{bot.url}/metrics", timeout=10).text
        assert httpx.post(f"{bot.url}/slack/events", content=b"{}", timeout=10).status_code == 404, "no HTTP events"

        def command(text: str, user: str = ADMIN) -> str:
            envelope = str(uuid.uuid4())
            fields = {"team_id": TEAM, "user_id": user, "channel_id": "C0REQUESTS", "command": "/rtc", "text": text,
                      "response_url": w.fake.response_url("C0REQUESTS", user), "trigger_id": w.fake.issue_trigger(),
                      "api_app_id": "AFAKE", "is_enterprise_install": "false"}  # fmt: skip
            w.fake.socket_send(
                {"envelope_id": envelope, "type": "slash_commands", "payload": fields, "accepts_response_payload": True}
            )
            return envelope

        helped = command("help")
        until_sync(lambda: [m for m in w.fake.socket_received if m.get("envelope_id") == helped], "the acknowledgement")
        ack = next(m for m in w.fake.socket_received if m.get("envelope_id") == helped)
        assert "/rtc audit" in json.dumps(ack.get("payload"))

        # an ingest change whose Update is slow; SIGTERM right after its acknowledgement: it is applied and told
        started = asyncio.run(_start_ingest(w))
        registered = command(
            f"task add tencent lobby {SDK_APP_ID} {started} url=https://media.example.com/lobby.mp4 volume=100 state=running"
        )
        until_sync(lambda: any(m.get("envelope_id") == registered for m in w.fake.socket_received), "ack")
        until_sync(lambda: [e for e in w.fake.ephemerals_for(ADMIN) if "lobby" in e.text], "the task added")
        w.tencent.add_latency(0.4, action="UpdateStreamIngest", times=1)
        changed = command("ingest lobby volume=40")
        until_sync(lambda: any(m.get("envelope_id") == changed for m in w.fake.socket_received), "ack")
        bot.proc.send_signal(signal.SIGTERM)
        bot.proc.wait(timeout=30)
        assert bot.proc.returncode == 0, bot.output()[-2000:]
        assert "stopping: finishing acknowledged work" in bot.output()
        assert [r for r in w.tencent.requests.all("UpdateStreamIngest") if r.status == 200], "applied before exiting"
        outcome = [m for m in w.fake.messages if "RequestId" in json.dumps(m.blocks)]
        assert outcome, "and said, before exiting"


async def _start_ingest(w: World) -> str:
    from bots import registry

    providers = registry(w)
    try:
        started = await providers.tencent().start_stream_ingest(
            {"SdkAppId": SDK_APP_ID, "RoomId": "lobby", "RoomIdType": 0, "UserId": "ingest", "UserSig": "sig",
             "StreamUrl": "https://media.example.com/lobby.mp4"}
        )  # fmt: skip
    finally:
        await providers.aclose()
    return str(started.result.task_id)
