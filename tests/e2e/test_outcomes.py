"""Truthful outcomes under faults, against real `rtcops serve` processes over signed HTTP: an approved change
always reaches a definite, correct verdict, and the thread, the parent message and the notification channel
are each told it exactly once, whatever the provider, Slack or the process did on the way."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bots import (
    ADMIN,
    APPROVER,
    LATECOMER,
    OPERATOR,
    OTHER,
    REQUESTS,
    SDK_APP_ID,
    TEAM,
    World,
    postgres_database,
    start_tasks,
    until,
    world,
)

from bot.sandbox import volcengine_sim
from bot.sandbox.examples import APP_ID, ROOM_ID, TASK_ID
from bot.sandbox.slack_api import Message, WebFault
from bot.sandbox.slack_driver import SlackDriver, plain_text
from bot.targets.config_json import contains
from bot.targets.volcengine import updatable

UPDATE = volcengine_sim.UPDATE
APPROVE = "rtc_approve"


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as made:
        yield made


def _text(message: Message) -> str:
    return plain_text(message.blocks, message.text)


async def propose_layout(w: World, slack: SlackDriver) -> Message:
    seen = len(w.requests())
    assert (await slack.command(OPERATOR, "layout finals pip host,guest", REQUESTS)).status_code == 200
    found = await until(lambda: w.requests()[seen:], "the request message")
    parent: Message = found[0]
    await until(lambda: any(b["type"] == "actions" for b in parent.blocks), "the Approve button")
    return parent


def outcomes(w: World, parent: Message) -> list[str]:
    return [t for t in w.thread_texts(parent) if "Applied* as version" in t or "*Failed*" in t or "*Outcome unknown*" in t]


async def told_once(w: World, parent: Message, verdict: str = "Applied* as version 2") -> None:
    """The thread got the verdict once, the parent shows it without buttons, the notification channel one line."""
    await until(lambda: outcomes(w, parent), "the outcome in the thread", seconds=45)
    await until(
        lambda: "applied" in _text(parent).lower() and not any(b["type"] == "actions" for b in parent.blocks), "the parent"
    )
    await until(lambda: [line for line in w.notify_lines() if "finals" in line], "the notification line")
    await asyncio.sleep(1.5)  # a second copy of any of them would have been delivered by now (the outbox polls twice a second)
    assert [verdict in t for t in outcomes(w, parent)] == [True], w.thread_texts(parent)
    assert len([line for line in w.notify_lines() if "finals" in line]) == 1, w.notify_lines()
    assert not any("Failed" in t for t in w.thread_texts(parent))


def in_force(w: World) -> dict[str, Any]:
    task = w.volc.task(APP_ID, ROOM_ID, TASK_ID)
    assert task is not None
    return updatable(task.config)


def store_configuration(w: World) -> tuple[int, dict[str, Any]]:
    shown = w.cli("task", "show", "--team", TEAM, "finals")
    assert shown.returncode == 0, shown.stderr
    version = int(shown.stdout.splitlines()[1].split(",")[0].removeprefix("version "))
    return version, json.loads(shown.stdout[shown.stdout.index("{\n") :])


def accepted_updates(w: World) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in w.volc.requests.all(UPDATE) if r.status == 200]


async def test_an_answer_lost_after_the_provider_applied_is_applied_and_the_store_matches(w: World) -> None:
    """The provider applies the Update and the answer never comes; the retry with the same SequenceNumber is
    refused (the number is spent). That refusal proves nothing, so rtcops sends it again with a higher number:
    applied, once, and the store's version and configuration are what is on air."""
    bot = w.serve()
    async with w.driver(bot) as slack:
        await start_tasks(w, slack)
        parent = await propose_layout(w, slack)
        w.volc.lose_answer(action=UPDATE, seconds=3.0, times=1)
        await slack.click(APPROVER, parent, APPROVE)
        await told_once(w, parent)
    refused = [r.code for r in w.volc.requests.all(UPDATE) if r.status != 200]
    assert refused == ["InvalidParameter.SequenceNumber"]
    version, configuration = store_configuration(w)
    assert version == 2 and contains(in_force(w), configuration)
    assert any("applied" in line for line in w.notify_lines())
    assert any("sends it again" in t for t in w.thread_texts(parent))


async def test_an_update_held_longer_than_any_timeout_ends_applied_and_failed_is_never_said(w: World) -> None:
    """The provider holds the first Update far beyond the client's timeouts and only then carries it out (it
    is refused by its lower SequenceNumber by then); no step on the way says failed."""
    bot = w.serve()
    async with w.driver(bot) as slack:
        await start_tasks(w, slack)
        parent = await propose_layout(w, slack)
        w.volc.add_timeout(seconds=16.0, action=UPDATE, times=1)
        await slack.click(APPROVER, parent, APPROVE)
        await told_once(w, parent)
        held = await until(
            lambda: [r for r in w.volc.requests.all(UPDATE) if r.faults and r.status], "the held Update", seconds=30
        )
        assert held[0].code == "InvalidParameter.SequenceNumber", "the held Update, arriving last, changed nothing"
        await asyncio.sleep(1.5)
    assert len(outcomes(w, parent)) == 1 and not any("Failed" in t for t in w.thread_texts(parent))
    version, configuration = store_configuration(w)
    assert version == 2 and contains(in_force(w), configuration)


@pytest.mark.parametrize("step", ["after-approve-commit", "after-applying-post", "during-provider-call", "after-provider-answer"])
async def test_kill_9_at_each_step_ends_applied_and_everyone_is_told_once(w: World, step: str) -> None:
    """The process dies at `step`; a new one, on the same database, finishes the change. Where the provider
    may have the update already, the new process sends it again with a higher SequenceNumber (fencing)."""
    failpoint = step if step in ("after-approve-commit", "after-provider-answer") else None
    first = w.serve(failpoints=failpoint)
    async with w.driver(first) as slack:
        await start_tasks(w, slack)
        parent = await propose_layout(w, slack)
        if step in ("after-applying-post", "during-provider-call"):
            w.volc.add_timeout(seconds=4.0, action=UPDATE, times=1)
        await slack.click(APPROVER, parent, APPROVE)
        if step == "after-applying-post":
            await until(lambda: any("Applying request" in t for t in w.thread_texts(parent)), "the Applying post")
            first.kill9()
        elif step == "during-provider-call":
            await until(lambda: w.volc.requests.all(UPDATE), "the Update at the provider")
            first.kill9()
        else:
            await until(lambda: first.proc.poll() is not None, f"the process to die at {step}")
    if step != "after-approve-commit":  # the update reached the provider before the process died
        await until(lambda: accepted_updates(w), "the provider to carry out the first Update", seconds=10)
    second = w.serve()
    async with w.driver(second) as slack:
        await told_once(w, parent)
    version, configuration = store_configuration(w)
    assert version == 2 and contains(in_force(w), configuration)
    numbers = [u["SequenceNumber"] for u in accepted_updates(w)]
    assert numbers == sorted(set(numbers)), "every update the provider took carried a higher number than the last"


@pytest.mark.parametrize("what", ["applying-post", "parent-update", "outcome-post"])
async def test_slack_failing_one_call_delays_that_message_and_loses_nothing(w: World, what: str) -> None:
    fault = {
        "applying-post": WebFault(
            "chat.postMessage", "internal_error", 500, times=2, match=lambda a: "Applying" in str(a.get("text"))
        ),
        "parent-update": WebFault("chat.update", "service_unavailable", 503, times=2),
        "outcome-post": WebFault(
            "chat.postMessage", "fatal_error", 200, times=2, match=lambda a: "applied" in str(a.get("text"))
        ),
    }[what]
    bot = w.serve()
    async with w.driver(bot) as slack:
        await start_tasks(w, slack)
        parent = await propose_layout(w, slack)
        w.fake.fail(fault)
        await slack.click(APPROVER, parent, APPROVE)
        await until(lambda: accepted_updates(w), "the change applied at the provider")
        await told_once(w, parent)
        assert len([t for t in w.thread_texts(parent) if "Applying request" in t]) == 1
        assert fault.times == 0, "Slack refused the call twice before it was delivered"


async def test_a_429_with_retry_after_30_on_one_channel_does_not_delay_answers_elsewhere(w: World) -> None:
    bot = w.serve()
    async with w.driver(bot) as slack:
        await start_tasks(w, slack)
        w.fake.fail(WebFault("chat.postMessage", times=None, retry_after=30, match=lambda a: a.get("channel") == REQUESTS))
        assert (await slack.command(OPERATOR, "layout finals pip host,guest", REQUESTS)).status_code == 200
        await until(lambda: any(c.status == 429 for c in w.fake.calls_to("chat.postMessage")), "the 429")
        seen = len(w.fake.ephemerals_for(OPERATOR))
        started = time.monotonic()
        await slack.command(OPERATOR, "status finals", OTHER)
        answer = await until(lambda: w.fake.ephemerals_for(OPERATOR)[seen:], "the status answer", seconds=10)
        assert time.monotonic() - started < 5.0
        assert "finals" in answer[0].text
        w.fake.heal()


async def test_a_task_removed_and_added_again_keeps_updating(w: World) -> None:
    bot = w.serve()
    async with w.driver(bot) as slack:
        await start_tasks(w, slack)
        parent = await propose_layout(w, slack)
        await slack.click(APPROVER, parent, APPROVE)
        await told_once(w, parent)
        for text in ("task remove finals", f"task add volcengine finals {APP_ID} {ROOM_ID} {TASK_ID} canvas=1280x720"):
            count = len(w.fake.ephemerals_for(ADMIN)) + 1
            await slack.command(ADMIN, text, REQUESTS)
            await until(lambda n=count: len(w.fake.ephemerals_for(ADMIN)) >= n, text)
        assert (await slack.command(OPERATOR, "layout finals grid host,guest", REQUESTS)).status_code == 200
        again = await until(lambda: [m for m in w.requests() if m.ts != parent.ts], "the second request")
        await until(lambda: any(b["type"] == "actions" for b in again[0].blocks), "its button")
        await slack.click(APPROVER, again[0], APPROVE)
        await until(lambda: [t for t in w.thread_texts(again[0]) if "Applied* as version 2" in t], "applied after re-adding")
    updates = w.volc.requests.all(UPDATE)
    assert [r.status for r in updates] == [200, 200], "the first update after re-adding was accepted"
    first, second = (json.loads(r.body)["SequenceNumber"] for r in updates)
    assert second > first


async def test_an_ingest_gone_at_tencent_is_failed_with_the_task_gone_wording_and_the_cli_exits_1(w: World) -> None:
    bot = w.serve()
    async with w.driver(bot) as slack:
        ingest = await start_tasks(w, slack)
        assert w.tencent.set_ingest_state(SDK_APP_ID, ingest, "ended")
        seen = len(w.requests())
        await slack.command(OPERATOR, "ingest lobby volume=30", REQUESTS)
        parent = (await until(lambda: w.requests()[seen:], "the request message"))[0]
        failed = await until(lambda: [t for t in w.thread_texts(parent) if "*Failed*" in t], "the failure")
        assert "no longer exists at the provider" in failed[0] and "Register the running task again" in failed[0]
        assert "fix the cause above" not in failed[0]
        await until(lambda: [line for line in w.notify_lines() if "lobby" in line and "task gone" in line], "the notify line")
    done = w.cli("provider", "tencent", "update-ingest", "--sdk-app-id", str(SDK_APP_ID), "--task-id", ingest, "--volume", "30")
    assert done.returncode == 1 and "does not exist" in done.stderr


async def test_a_click_refused_for_lack_of_a_role_is_carried_out_once_the_role_is_granted(w: World) -> None:
    bot = w.serve()
    async with w.driver(bot) as slack:
        await start_tasks(w, slack)
        parent = await propose_layout(w, slack)
        await slack.click(LATECOMER, parent, APPROVE)
        denied = await until(lambda: w.fake.ephemerals_for(LATECOMER), "the refusal")
        assert "Not allowed to approve" in denied[0].text
        seen = len(w.fake.ephemerals_for(ADMIN))
        await slack.command(ADMIN, f"grant <@{LATECOMER}|latecomer> approver", REQUESTS)
        await until(lambda: w.fake.ephemerals_for(ADMIN)[seen:], "the grant")
        await slack.click(LATECOMER, parent, APPROVE)  # the same button, the same payload
        await told_once(w, parent)
    assert len(accepted_updates(w)) == 1


# --- two replicas on PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture
def pg_world(tmp_path: Path) -> Iterator[World]:
    with postgres_database("the two-replica test") as db, world(tmp_path, db) as made:
        yield made


@pytest.mark.postgres
async def test_twenty_concurrent_approvals_across_two_replicas_make_one_update(pg_world: World) -> None:
    w = pg_world
    approvers = [f"U0APPR{i:04d}" for i in range(20)]
    w.fake.users.update({a: a.lower() for a in approvers})
    w.fake.usergroups["S0APPROVERS"] = approvers
    one, two = w.serve(), w.serve()
    async with w.driver(one) as a, w.driver(two) as b:
        await start_tasks(w, a)
        seen = len(w.fake.ephemerals_for(ADMIN))
        await a.command(ADMIN, "grant <!subteam^S0APPROVERS|approvers> approver", REQUESTS)
        await until(lambda: w.fake.ephemerals_for(ADMIN)[seen:], "the group grant")
        parent = await propose_layout(w, a)
        clicks = [(a if i % 2 else b).click(user, parent, APPROVE) for i, user in enumerate(approvers)]
        assert all(r.status_code == 200 for r in await asyncio.gather(*clicks))
        await told_once(w, parent)
    assert len(w.volc.requests.all(UPDATE)) == 1
