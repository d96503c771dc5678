"""Bulk changes and scenes over signed HTTP: the bot, the provider simulators and the fake Slack, on loopback.

A tag of 17 Volcengine mixed pushes (the tournament's rooms) is changed with one command and one approval; the
simulator's request log says which tasks got which Update, and the fake Slack what the channel and the thread
were told.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import pytest
from slack_support import NOTIFY_CHANNEL, REQUEST_CHANNEL, U1, U2, U3, Env, ephemeral_from, eventually
from sqlalchemy import select

from bot.domain import ChangeState
from bot.sandbox import volcengine_sim
from bot.sandbox.examples import APP_ID, ROOM_ID, side_by_side_start, task_config
from bot.sandbox.slack_api import Message
from bot.sandbox.slack_driver import plain_text
from bot.sandbox.slack_signing import interaction_body
from bot.services import tasks
from bot.services.deps import Actor
from bot.store.models import AuditEvent, Bulk, ChangeRequest, Task
from handlers import bulk_blocks

ROOMS = 17
ADMIN = Actor("T0TEAM", "UADMIN")


def _alias(i: int) -> str:
    return f"semis-{i:02d}"


def _task_id(i: int) -> str:
    return f"mix-semis-{i:02d}"


async def setup_rooms(env: Env, n: int = ROOMS, *, tag: str = "semis", first: int = 0, grant: bool = True) -> None:
    """`n` mixed pushes running side by side in the simulator, registered with tag `tag` (by the admin, through
    the same service `/rtc task add` calls), the operator and the approver granted on the tag."""
    for i in range(first, first + n):
        await env.deps.providers.volcengine.start_push_mixed_stream_to_cdn(
            side_by_side_start(users=("a", "b"), TaskId=_task_id(i))
        )
        await tasks.add_task(
            env.deps, ADMIN, "volcengine", _alias(i), [APP_ID, ROOM_ID, _task_id(i)], {"canvas": "1280x720", "tags": tag}
        )
    for text, needle in (
        ()
        if not grant
        else ((f"grant <@{U1}|operator> operator tag:{tag}", U1), (f"grant <@{U2}|approver> approver tag:{tag}", U2))
    ):
        await env.command("UADMIN", text)
        await ephemeral_from(env, "UADMIN", needle)


def bulk_messages(env: Env) -> list[Message]:
    return [m for m in env.request_messages(REQUEST_CHANNEL) if "Bulk #" in json.dumps(m.blocks[0])]


async def bulk_message(env: Env, index: int = -1, count: int = 1) -> Message:
    found = await eventually(lambda: len(bulk_messages(env)) >= count and bulk_messages(env), f"{count} bulk request message(s)")
    return found[index]


def updates_by_task(env: Env) -> Counter[str]:
    return Counter(json.loads(r.body)["TaskId"] for r in env.volc.requests.all(volcengine_sim.UPDATE))


def shown(message: Message) -> str:
    return plain_text(message.blocks, message.text)


async def stored_layout(env: Env, alias: str) -> Any:
    task = env.volc.task(APP_ID, ROOM_ID, _task_id(int(alias.rsplit("-", 1)[1])))
    assert task is not None
    return task.config


async def test_a_tag_of_17_is_changed_with_one_approval_and_one_update_each(env: Env) -> None:
    await setup_rooms(env)
    await env.command(U1, "layout tag:semis pip a,b")
    parent = await bulk_message(env)
    text = shown(parent)
    assert "17 tasks" in text and "semis-01" in text and "semis-17" not in text  # 00..16
    assert "(17 tasks)" in text, text  # one diff shown once for the 17 tasks that share it
    pictures = await eventually(lambda: [m for m in env.thread(parent) if m.files], "the preview picture")
    await env.settled()
    assert len([m for m in env.thread(parent) if m.files]) == 1  # one distinct resulting layout: one picture
    assert pictures[0].files[0]["mimetype"] == "image/png"
    assert not env.volc.requests.all(volcengine_sim.UPDATE)

    await env.click(U1, parent, bulk_blocks.APPROVE)  # the requester cannot approve their own change
    await ephemeral_from(env, U1, "Not allowed to approve")
    await env.click(U2, parent, bulk_blocks.APPROVE)
    await eventually(lambda: "17/17 applied" in shown(parent), "the progress message at 17/17", seconds=20)
    await env.settled()
    assert updates_by_task(env) == Counter({_task_id(i): 1 for i in range(ROOMS)})
    assert all(r.status == 200 for r in env.volc.requests.all(volcengine_sim.UPDATE))
    assert "0 failed · 0 pending" in shown(parent) and "█" * bulk_blocks.BAR_WIDTH in shown(parent)
    assert not any(b["type"] == "actions" for b in parent.blocks)

    def outcome_lines() -> list[str]:
        return [line for m in env.thread(parent) for line in shown(m).splitlines() if "applied as v2" in line]

    await eventually(lambda: len(outcome_lines()) >= ROOMS, "an outcome line for each task in the thread")
    thread = env.thread(parent)
    assert sorted(line.split("*")[1] for line in outcome_lines()) == [_alias(i) for i in range(ROOMS)]
    assert len(thread) < 10  # batched: a handful of thread messages, not one per task
    assert [m for m in env.fake.channel_messages(REQUEST_CHANNEL) if m.thread_ts is None] == [parent]
    # the bulk is marked finished by the delivery that posts the last outcomes, just after it posts them
    await eventually(lambda: env.fake.channel_messages(NOTIFY_CHANNEL), "the notification line")
    async with env.deps.sessions() as session:
        requests = (await session.scalars(select(ChangeRequest))).all()
        bulk = (await session.scalars(select(Bulk))).one()
    assert len(requests) == ROOMS and {r.state for r in requests} == {ChangeState.APPLIED}
    assert {r.bulk_id for r in requests} == {bulk.id} and bulk.finished_at is not None
    assert all(r.sequence_number for r in requests)  # each task's own SequenceNumber, sent with its Update
    sent = {
        json.loads(r.body)["TaskId"]: json.loads(r.body)["SequenceNumber"] for r in env.volc.requests.all(volcengine_sim.UPDATE)
    }
    async with env.deps.sessions() as session:
        by_task = {t.id: t.ids["TaskId"] for t in (await session.scalars(select(Task))).all()}
    assert sent == {by_task[r.task_id]: r.sequence_number for r in requests}
    notify = await eventually(lambda: env.fake.channel_messages("CNOTIFY"), "one notification line")
    await env.settled()
    assert len(env.fake.channel_messages("CNOTIFY")) == 1 and "17/17 applied" in notify[0].text


async def test_two_failures_are_retried_and_the_fifteen_rolled_back(env: Env) -> None:
    await setup_rooms(env)
    before = {i: await stored_layout(env, _alias(i)) for i in range(ROOMS)}
    await env.command(U1, "layout tag:semis pip a,b")
    parent = await bulk_message(env)
    buttons = parent  # the Approve button, read before the message changes
    env.volc.fail_with_code("InvalidParameter", action=volcengine_sim.UPDATE, times=2, message="refused on purpose", status=400)
    await env.click(U2, buttons, bulk_blocks.APPROVE)
    await eventually(lambda: "15/17 applied · 2 failed · 0 pending" in shown(parent), "15 applied and 2 failed", seconds=20)
    await env.settled()
    failed_ids = {json.loads(r.body)["TaskId"] for r in env.volc.requests.all(volcengine_sim.UPDATE) if r.status != 200}
    assert len(failed_ids) == 2
    labels = [e["text"]["text"] for b in parent.blocks if b["type"] == "actions" for e in b["elements"]]
    assert labels == ["Retry failed (2)", "Roll back applied (15)"]

    updates_before = len(env.volc.requests.all(volcengine_sim.UPDATE))
    await env.click(U1, parent, bulk_blocks.RETRY)
    retry = await bulk_message(env, count=2)
    assert "2 tasks" in shown(retry)
    await env.settled()
    assert len(env.volc.requests.all(volcengine_sim.UPDATE)) == updates_before  # proposed, not applied: it needs approval
    await env.click(U2, retry, bulk_blocks.APPROVE)
    await eventually(lambda: "2/2 applied" in shown(retry), "the retry applied", seconds=20)
    await env.settled()
    retried = [json.loads(r.body)["TaskId"] for r in env.volc.requests.all(volcengine_sim.UPDATE)[updates_before:]]
    assert sorted(retried) == sorted(failed_ids)

    updates_before = len(env.volc.requests.all(volcengine_sim.UPDATE))
    await env.click(U1, parent, bulk_blocks.ROLLBACK)
    rollback = await bulk_message(env, count=3)
    assert "15 tasks" in shown(rollback)
    await env.click(U2, rollback, bulk_blocks.APPROVE)
    await eventually(lambda: "15/15 applied" in shown(rollback), "the rollback applied", seconds=20)
    await env.settled()
    rolled = [json.loads(r.body)["TaskId"] for r in env.volc.requests.all(volcengine_sim.UPDATE)[updates_before:]]
    assert sorted(rolled) == sorted(_task_id(i) for i in range(ROOMS) if _task_id(i) not in failed_ids)
    for i in range(ROOMS):
        now = await stored_layout(env, _alias(i))
        if _task_id(i) in failed_ids:
            assert now["Layout"] != before[i]["Layout"]  # retried into the new layout, and left there
        else:
            assert task_config(now)["Layout"] == task_config(before[i])["Layout"]  # back as it was


async def test_tasks_the_caller_may_not_change_are_listed_and_skipped_only_on_confirmation(env: Env) -> None:
    await setup_rooms(env, 3)
    await setup_rooms(env, 2, tag="finals", first=3, grant=False)  # U1 is operator on tag:semis, not on these
    for i in (3, 4):
        async with env.deps.sessions.begin() as session:
            task = (await session.scalars(select(Task).where(Task.alias == _alias(i)))).one()
            task.tags = ["finals", "semis-viewers"]
    await env.command("UADMIN", f"grant <@{U1}|operator> viewer tag:semis-viewers")
    await ephemeral_from(env, "UADMIN", "viewer")
    await env.command(U1, f"layout {','.join(_alias(i) for i in range(5))} pip a,b")
    preview = await ephemeral_from(env, U1, "does not cover 2")
    assert "semis-03" in preview and "semis-04" in preview and "operator is needed" in preview
    await env.settled()
    assert not bulk_messages(env)  # nothing proposed until the caller confirms
    ephemeral = next(e for e in reversed(env.fake.ephemerals_for(U1)) if "does not cover" in json.dumps(e.blocks))
    button = next(el for b in ephemeral.blocks if b["type"] == "actions" for el in b["elements"])
    payload = env.button_payload(U1, REQUEST_CHANNEL, "1.000001", button, "bulk_confirm")
    await env.post(interaction_body(payload))
    parent = await bulk_message(env)
    text = shown(parent)
    assert "3 tasks" in text and "Not covered (2)" in text and "semis-03" in text
    await env.click(U2, parent, bulk_blocks.APPROVE)
    await eventually(lambda: "3/3 applied" in shown(parent), "the three applied", seconds=20)
    await env.settled()
    assert sorted(updates_by_task(env)) == [_task_id(i) for i in range(3)]


async def test_a_scene_saved_from_one_task_gives_every_task_of_a_tag_its_configuration(env: Env) -> None:
    await setup_rooms(env, 4)
    await env.command(U1, "layout semis-00 pip a,b")
    single = await eventually(
        lambda: [m for m in env.request_messages(REQUEST_CHANNEL) if "Bulk #" not in json.dumps(m.blocks[0])], "one request"
    )
    await env.click(U2, single[0], "rtc_approve")
    await eventually(lambda: "Applied" in json.dumps([m.blocks for m in env.thread(single[0])]), "applied on semis-00")
    await env.settled()
    await env.command(U1, "scene save semis-00 match")
    await ephemeral_from(env, U1, "saved as version 1")
    await env.command(U1, "scene list")
    await ephemeral_from(env, U1, "match")
    await env.command(U1, "scene apply match tag:semis")
    preview = await ephemeral_from(env, U1, "does not cover 1")  # semis-00 runs it already
    assert "nothing would change" in preview
    ephemeral = next(e for e in reversed(env.fake.ephemerals_for(U1)) if "does not cover" in json.dumps(e.blocks))
    button = next(el for b in ephemeral.blocks if b["type"] == "actions" for el in b["elements"])
    await env.post(interaction_body(env.button_payload(U1, REQUEST_CHANNEL, "1.000001", button, "bulk_confirm")))
    parent = await bulk_message(env)
    await env.click(U2, parent, bulk_blocks.APPROVE)
    await eventually(lambda: "3/3 applied" in shown(parent), "the scene applied on the other three", seconds=20)
    await env.settled()
    model = await stored_layout(env, "semis-00")
    for i in range(4):
        got = await stored_layout(env, _alias(i))
        assert task_config(got)["Layout"] == task_config(model)["Layout"]
        assert task_config(got)["TargetStreams"] == task_config(model)["TargetStreams"]


async def test_someone_without_a_role_on_the_set_cannot_propose_or_approve(env: Env) -> None:
    await setup_rooms(env, 2)
    await env.command(U3, "layout tag:semis pip a,b")
    await ephemeral_from(env, U3, "Not allowed")
    await env.command(U1, "layout tag:semis pip a,b")
    parent = await bulk_message(env)
    await env.click(U3, parent, bulk_blocks.APPROVE)
    await ephemeral_from(env, U3, "Not allowed to approve")
    await env.settled()
    assert not env.volc.requests.all(volcengine_sim.UPDATE)
    assert any(b["type"] == "actions" for b in parent.blocks)


async def test_the_editor_opened_on_a_selector_proposes_on_every_task(env: Env) -> None:
    await setup_rooms(env, 3)
    before = set(env.fake.views)
    await env.command(U1, "layout tag:semis")
    views = await eventually(
        lambda: [v for k, v in env.fake.views.items() if k not in before and "Propose" in json.dumps(v.view)], "the editor"
    )
    assert "3 tasks match tag:semis" in json.dumps(views[-1].view)
    answer = await env.submit(
        U1,
        views[-1].id,
        {
            "preset": {"type": "static_select", "selected_option": {"value": "pip"}},
            "streams": {"type": "plain_text_input", "value": "a\nb"},
        },
    )
    assert answer.status_code == 200 and not answer.content
    parent = await bulk_message(env)
    assert "3 tasks" in shown(parent)
    await env.click(U2, parent, bulk_blocks.APPROVE)
    await eventually(lambda: "3/3 applied" in shown(parent), "the three applied", seconds=20)


@pytest.mark.settings(provider_timeout_seconds=0.5, provider_max_attempts=2, provider_deadline_seconds=1.0)
async def test_an_answer_lost_in_a_bulk_is_settled_as_for_one_change_and_applied_once(env: Env) -> None:
    """One task's Update is applied by the provider and its answer lost: that task stays pending on the bar while
    rtcops sends it again with a higher SequenceNumber (the first one is spent), then applied; the others are not
    held back, and no task is said to have failed."""
    await setup_rooms(env, 3)
    await env.command(U1, "layout tag:semis pip a,b")
    parent = await bulk_message(env)
    env.volc.lose_answer(action=volcengine_sim.UPDATE, seconds=2.0, times=1)
    await env.click(U2, parent, bulk_blocks.APPROVE)
    await eventually(lambda: "3/3 applied · 0 failed · 0 pending" in shown(parent), "all three applied", seconds=30)
    await env.settled()
    per_task = updates_by_task(env)
    again = next(t for t, n in per_task.items() if n > 1)
    sent = [r for r in env.volc.requests.all(volcengine_sim.UPDATE) if json.loads(r.body)["TaskId"] == again]
    # applied with its answer lost; the client's retry with the same number refused (spent); sent again by the
    # verdict code with a higher number and accepted: the same configuration, in effect once
    assert [r.code for r in sent] == [None, "InvalidParameter.SequenceNumber", None]
    numbers = [json.loads(r.body)["SequenceNumber"] for r in sent]
    assert numbers[2] > numbers[0] and json.loads(sent[2].body)["Layout"] == json.loads(sent[0].body)["Layout"]
    assert sorted(n for t, n in per_task.items() if t != again) == [1, 1]
    alias = again.removeprefix("mix-")
    await eventually(
        lambda: [ln for m in env.thread(parent) for ln in shown(m).splitlines() if f"{alias}*: applied as v2" in ln],
        "the outcome line of the task sent again",
    )
    assert not any("failed:" in shown(m) for m in env.thread(parent))


async def test_an_ingest_change_on_a_tag_applies_at_once_when_policy_needs_no_approval(env: Env) -> None:
    ids = []
    for i in range(3):
        started = await env.deps.providers.tencent().start_stream_ingest(
            {
                "SdkAppId": 1400000001,
                "RoomId": f"lobby-{i}",
                "RoomIdType": 0,
                "UserId": f"in-{i}",
                "UserSig": "s",
                "StreamUrl": "https://media.example.com/a.mp4",
            }
        )
        ids.append(started.result.task_id)
        options = {"url": "https://media.example.com/a.mp4", "volume": "100", "state": "running", "tags": "lobbies"}
        await tasks.add_task(env.deps, ADMIN, "tencent", f"lobby-{i}", ["1400000001", ids[-1]], options)
    await env.command("UADMIN", f"grant <@{U1}|operator> operator tag:lobbies")
    await ephemeral_from(env, "UADMIN", U1)
    await env.command(U1, "ingest tag:lobbies volume=30")
    parent = await bulk_message(env)
    await eventually(lambda: "3/3 applied" in shown(parent), "applied without an approval", seconds=20)
    await env.settled()
    assert all((t := env.tencent.task(1400000001, i)) is not None and t.volume == 30 for i in ids)
    assert len(env.tencent.requests.all("UpdateStreamIngest")) == 3
    assert not any(b["type"] == "actions" for b in parent.blocks)


@pytest.mark.slack_refusals_expected  # the bot posts into a channel it is not in, and Slack refuses it
async def test_a_bulk_from_a_channel_the_bot_is_not_in_is_cancelled_and_its_requester_told(env: Env) -> None:
    await setup_rooms(env, 2)
    await env.command(U1, "layout tag:semis pip a,b", channel="CUNKNOWN")
    told = await eventually(lambda: [m for m in env.fake.channel_messages(U1) if "could not be posted" in m.text], "the DM")
    assert "bulk change" in told[0].text and "cancelled" in told[0].text
    await env.settled()
    await env.command(U1, "layout tag:semis pip a,b")  # its tasks' locks were let go
    parent = await bulk_message(env)
    assert "2 tasks" in shown(parent)


async def test_a_click_on_a_bulk_already_decided_names_the_bulk_not_a_request(env: Env) -> None:
    await setup_rooms(env, 2)
    await env.command(U1, "layout tag:semis pip a,b")
    parent = await bulk_message(env)
    async with env.deps.sessions() as session:
        bulk_id = (await session.execute(select(Bulk.id))).scalar_one()
    seen = copy.deepcopy(parent)  # the message as the admin's client still shows it
    await env.click(U2, parent, bulk_blocks.REJECT)
    await env.settled()
    await env.click("UADMIN", seen, bulk_blocks.APPROVE)
    said = await ephemeral_from(env, "UADMIN", "cannot be approved")
    assert f"Bulk change #{bulk_id} is rejected; it cannot be approved" in said, said
    assert "Request #" not in said
    await env.settled()
    assert not env.volc.requests.all(volcengine_sim.UPDATE)


async def test_unlocking_one_task_of_a_waiting_bulk_cancels_the_bulk_and_says_so(env: Env) -> None:
    """Its one approval covered the three tasks shown; with one taken out it would wait for an approval nobody could
    give. Before: the member alone was cancelled, the message still offered "Approve all 3", and Approve answered
    "Bulk change #1 is pending; it cannot be approved"."""
    await setup_rooms(env, 3)
    await env.command(U1, "layout tag:semis pip a,b")
    parent = await bulk_message(env)
    seen = copy.deepcopy(parent)  # the message as the approver's client still shows it
    await env.command("UADMIN", f"unlock {_alias(1)}")
    said = await ephemeral_from(env, "UADMIN", "unlocked")
    assert f"{_alias(1)} unlocked: bulk change #1 (3 tasks, still waiting for its approval) cancelled" in said, said
    await env.settled()
    assert not any(b["type"] == "actions" for b in parent.blocks), shown(parent)
    told = [m.text for m in env.thread(parent)]
    assert f":heavy_multiplication_x: Cancelled by <@UADMIN> ({_alias(1)} was unlocked); none of the 3 tasks" in told[-1], told
    async with env.deps.sessions() as session:
        assert (await session.execute(select(Bulk.state))).scalar_one() == "cancelled"
        states = (await session.execute(select(ChangeRequest.state))).scalars().all()
    assert sorted(states) == [ChangeState.CANCELLED] * 3
    await env.click(U2, seen, bulk_blocks.APPROVE)
    assert "Bulk change #1 is cancelled; it cannot be approved" in await ephemeral_from(env, U2, "cannot be approved")
    await env.command(U1, "layout tag:semis pip a,b")  # every task free again: the next proposal covers all three
    again = await bulk_message(env, count=2)
    assert "3 tasks" in shown(again), shown(again)
    await env.settled()
    assert not env.volc.requests.all(volcengine_sim.UPDATE)


async def test_an_admin_of_one_task_cannot_cancel_a_bulk_over_others_by_unlocking_it(env: Env) -> None:
    await setup_rooms(env, 2)
    await env.command("UADMIN", f"grant <@{U3}|lead> admin task:{_alias(0)}")
    await ephemeral_from(env, "UADMIN", "*admin*")
    await env.command(U1, "layout tag:semis pip a,b")
    parent = await bulk_message(env)
    await env.command(U3, f"unlock {_alias(0)}")
    said = await ephemeral_from(env, U3, "Not allowed")
    assert _alias(1) in said, said
    await env.settled()
    assert any(b["type"] == "actions" for b in parent.blocks)
    async with env.deps.sessions() as session:
        assert (await session.execute(select(Bulk.state))).scalar_one() == "pending"
        assert set((await session.execute(select(ChangeRequest.state))).scalars().all()) == {ChangeState.PENDING}


async def test_a_scene_for_a_tag_is_saved_shown_listed_and_deleted_over_slack(env: Env) -> None:
    await setup_rooms(env, 2)
    await env.command(U3, "scene save tag:semis match pip a,b")  # no role on the tag: may not save for it
    await ephemeral_from(env, U3, "Not allowed")
    await env.command(U1, "scene save tag:semis match pip a,b")
    assert "Scene *match* saved as version 1" in await ephemeral_from(env, U1, "saved as version")
    await env.command(U1, "scene show match")
    await ephemeral_from(env, U1, "/rtc scene apply match")
    assert "*match* v1 · for tag:semis · layout pip a,b · <@U0OPERATOR1>" in _last_ephemeral(env, U1), _last_ephemeral(env, U1)
    await env.command(U1, "scene list")
    await eventually(lambda: "*Scenes*" in _last_ephemeral(env, U1), "the list of scenes")
    assert "*Scenes*\n• *match* v1 · for tag:semis" in _last_ephemeral(env, U1)
    await env.command(U2, "scene delete match")  # neither its author nor an admin
    await ephemeral_from(env, U2, "Not allowed")
    await env.command(U1, "scene delete match")
    assert "Scene *match* deleted" in await ephemeral_from(env, U1, ":wastebasket:")
    for text in ("scene show match", "scene apply match"):
        await env.command(U1, text)
    await eventually(lambda: len([t for t in env.ephemeral_texts(U1) if "scene match not found" in t]) == 2, "two not found")
    await env.command(U1, "scene list")
    await ephemeral_from(env, U1, "No scenes yet")
    await env.settled()
    assert not bulk_messages(env) and not env.volc.requests.all(volcengine_sim.UPDATE)
    async with env.deps.sessions() as session:
        actions = (await session.scalars(select(AuditEvent.action).where(AuditEvent.target == "scene:match"))).all()
    assert sorted(actions) == ["scene.delete", "scene.save"]


def _last_ephemeral(env: Env, user: str) -> str:
    return plain_text(env.fake.ephemerals_for(user)[-1].blocks)
