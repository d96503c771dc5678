"""The read models the Slack layer renders (approvers, own open requests, recent changes, App Home) and the
rule that nothing about an alias is said before the actor passed the permission check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from svc_support import BOOT_ADMIN, TEAM, Clock

from bot.services import applying, change_views, changes, grants, home, locks, tasks
from bot.services.changes import Rollback
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput, Locked, NotFound, PermissionDenied, TaskNotFound
from bot.services.grants import Subject
from bot.targets.layout_changes import RegionEdit
from bot.targets.tencent import IngestChange

OPERATOR = Actor(TEAM, "UOPER")
APPROVER = Actor(TEAM, "UAPPR")
NOBODY = Actor(TEAM, "UNOBODY")
STAGE_ONLY = Actor(TEAM, "USTAGEVIEW")


@pytest.fixture
async def people(deps: Deps, start_volc: Any) -> None:
    """The task "stage" (tag live), an operator everywhere, an approver and a viewer on stage only."""
    await start_volc("stage", tags=("live",))
    await grants.grant(deps, BOOT_ADMIN, OPERATOR.user_id, "operator")
    await grants.grant(deps, BOOT_ADMIN, APPROVER.user_id, "approver", "task:stage")
    await grants.grant(deps, BOOT_ADMIN, STAGE_ONLY.user_id, "viewer", "task:stage")


async def test_approvers_for_lists_approvers_in_scope_unexpired_groups_and_bootstrap_admins(
    deps: Deps, start_volc: Any, start_tencent: Any, clock: Clock, people: None
) -> None:
    await start_tencent("lobby")
    await grants.grant(deps, BOOT_ADMIN, "<!subteam^SAPPR|@approvers>", "approver", "tag:live")
    await grants.grant(deps, BOOT_ADMIN, "UADMIN2", "admin", "provider:volcengine")
    await grants.grant(deps, BOOT_ADMIN, "UOLD", "approver", expires_at=clock.now.replace(hour=4))
    await grants.grant(deps, BOOT_ADMIN, "UTENCENT", "approver", "provider:tencent")
    await grants.grant(deps, BOOT_ADMIN, "UVIEW", "viewer")
    clock.advance(hours=2)  # UOLD's grant has run out

    found = await grants.approvers_for(deps, OPERATOR, "stage")
    assert found == [
        Subject("user", APPROVER.user_id),
        Subject("group", "SAPPR"),
        Subject("user", "UADMIN2"),
        Subject("user", BOOT_ADMIN.user_id),
    ]
    # the one asking is never among those who could approve their change
    assert Subject("user", APPROVER.user_id) not in await grants.approvers_for(deps, APPROVER, "stage")
    lobby = await grants.approvers_for(deps, OPERATOR, "lobby")
    assert lobby == [Subject("user", "UTENCENT"), Subject("user", BOOT_ADMIN.user_id)]
    with pytest.raises(PermissionDenied):
        await grants.approvers_for(deps, NOBODY, "stage")


async def test_change_results_carry_where_the_request_was_posted(deps: Deps, start_volc: Any, people: None) -> None:
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.5}))
    assert proposed.channel_id is None and proposed.message_ts is None and not proposed.posted
    await changes.attach_message(
        deps, proposed.request_id, channel_id="CREQ", message_ts="1700000000.000100", permalink="https://x/p1"
    )
    found = await change_views.get_request(deps, OPERATOR, proposed.request_id)
    assert (found.channel_id, found.message_ts, found.link) == ("CREQ", "1700000000.000100", "https://x/p1")


async def test_my_open_requests_and_recent_changes_only_show_what_the_actor_may_view(
    deps: Deps, start_volc: Any, start_tencent: Any, people: None
) -> None:
    await start_tencent("lobby")
    lobby = await changes.propose(deps, OPERATOR, "lobby", IngestChange(volume=30))
    await applying.apply(deps, OPERATOR, lobby.request_id)
    stage = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.5}))

    mine = await change_views.my_open_requests(deps, OPERATOR)
    assert [c.request_id for c in mine] == [stage.request_id]  # the applied one is closed
    assert await change_views.my_open_requests(deps, APPROVER) == []

    recent = await change_views.recent_changes(deps, OPERATOR)
    assert [(c.request_id, c.alias) for c in recent] == [(stage.request_id, "stage"), (lobby.request_id, "lobby")]
    assert [c.alias for c in await change_views.recent_changes(deps, STAGE_ONLY)] == ["stage"]
    assert [c.request_id for c in await change_views.recent_changes(deps, OPERATOR, limit=1)] == [stage.request_id]
    assert await change_views.recent_changes(deps, NOBODY) == []

    summary = await home.home(deps, STAGE_ONLY)
    assert [t.alias for t in summary.tasks] == ["stage"] and summary.mine == [] and summary.waiting == []
    approver_home = await home.home(deps, APPROVER)
    assert [c.request_id for c in approver_home.waiting] == [stage.request_id]
    empty = await home.home(deps, NOBODY)  # App Home never refuses; it is simply empty
    assert (empty.waiting, empty.mine, empty.tasks, empty.recent) == ([], [], [], [])


async def test_listings_refuse_someone_with_no_role_naming_the_missing_role(deps: Deps, start_volc: Any, people: None) -> None:
    for listing in (tasks.list_tasks, tasks.list_statuses, grants.list_grants):
        with pytest.raises(PermissionDenied) as denied:
            await listing(deps, NOBODY)
        assert denied.value.missing_role == "viewer" and "no role" in denied.value.reason
    assert [t.alias for t in await tasks.list_tasks(deps, STAGE_ONLY)] == ["stage"]
    assert [g.scope for g in await grants.list_grants(deps, STAGE_ONLY)] == ["task:stage"]


Call = Callable[[Deps, Actor, str], Awaitable[Any]]
BY_ALIAS: dict[str, Call] = {
    "show_task": tasks.show_task,
    "remove_task": tasks.remove_task,
    "history": change_views.history,
    "unlock": locks.unlock,
    "propose_ingest": lambda d, a, alias: changes.propose(d, a, alias, IngestChange(volume=10)),
    "propose_region_edit": lambda d, a, alias: changes.propose(d, a, alias, RegionEdit(0, {"Alpha": 0.5})),
    "propose_rollback": lambda d, a, alias: changes.propose(d, a, alias, Rollback(9)),
    "set_policy": lambda d, a, alias: changes.set_policy(d, a, alias, "volume", True),
    "approvers_for": grants.approvers_for,
}


@pytest.mark.parametrize("name", sorted(BY_ALIAS))
async def test_an_alias_says_nothing_before_authorization(deps: Deps, start_volc: Any, name: str, people: None) -> None:
    """A user with no role gets the same denial for a task that exists (and is locked) as for one that
    does not; only someone who may act on it learns that it is missing."""
    await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.5}))  # stage is now locked
    call = BY_ALIAS[name]
    answers = []
    for alias in ("stage", "nosuch"):
        with pytest.raises(PermissionDenied) as denied:
            await call(deps, NOBODY, alias)
        answers.append(str(denied.value).replace(alias, "<alias>"))
    assert answers[0] == answers[1]
    with pytest.raises((TaskNotFound, NotFound)):
        await call(deps, BOOT_ADMIN, "nosuch")


async def test_permission_comes_before_the_lock_and_the_version_lookup(deps: Deps, start_volc: Any, people: None) -> None:
    await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.5}))
    with pytest.raises(PermissionDenied):
        await changes.propose(deps, STAGE_ONLY, "stage", RegionEdit(0, {"Alpha": 0.6}))  # viewer: not "locked"
    with pytest.raises(Locked):
        await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.6}))
    with pytest.raises(PermissionDenied):
        await changes.propose(deps, STAGE_ONLY, "stage", Rollback(9))  # not "version 9 not found"


async def test_request_ids_and_grant_scopes_say_nothing_before_authorization(deps: Deps, start_volc: Any, people: None) -> None:
    proposed = await changes.propose(deps, OPERATOR, "stage", RegionEdit(0, {"Alpha": 0.5}))
    for request_id in (proposed.request_id, 999_999):
        for decide in (change_views.get_request, changes.approve, changes.reject, changes.cancel):
            with pytest.raises(PermissionDenied):
                await decide(deps, NOBODY, request_id)
    with pytest.raises(NotFound):
        await change_views.get_request(deps, BOOT_ADMIN, 999_999)
    for scope in ("task:stage", "task:nosuch"):
        with pytest.raises(PermissionDenied):
            await grants.grant(deps, OPERATOR, "UXYZ", "viewer", scope)
    with pytest.raises(BadInput, match="no task called 'nosuch'"):
        await grants.grant(deps, BOOT_ADMIN, "UXYZ", "viewer", "task:nosuch")
