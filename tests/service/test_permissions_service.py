"""Each permission rule, against real grants in a real database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from svc_support import BOOT_ADMIN, TEAM, Clock

from bot.services import grants
from bot.services.deps import Actor, Deps
from bot.services.errors import BadInput, NotFound, PermissionDenied
from bot.services.permissions import ACTION_ROLES, COMMAND_ACTIONS, Target, authorize
from bot.store import create_engine, session_factory
from bot.store.engine import sqlite_threads_done
from bot.store.models import AuditEvent, Grant

ALICE = Actor(TEAM, "UALICE")
BOB = Actor(TEAM, "UBOB")
STAGE = Target("stage", "volcengine", ("live", "eu"))
BACKUP = Target("backup", "tencent", ("dr",))


async def test_deny_by_default(deps: Deps) -> None:
    for action in ACTION_ROLES:
        decision = await authorize(deps, ALICE, action, STAGE)
        assert not decision.allowed
        assert decision.missing_role == ACTION_ROLES[action].label
    assert not (await authorize(deps, ALICE, "no-such-action", STAGE)).allowed


def test_every_command_maps_to_a_known_action() -> None:
    assert set(COMMAND_ACTIONS.values()) - {None} <= set(ACTION_ROLES)


async def test_bootstrap_admin_from_settings_and_other_team_prefix(deps: Deps) -> None:
    assert (await authorize(deps, BOOT_ADMIN, "admin", STAGE)).allowed
    assert (await authorize(deps, Actor("TOTHER", "UBOOT"), "admin")).allowed
    assert not (await authorize(deps, Actor(TEAM, "UNOBODY"), "view")).allowed


@pytest.mark.parametrize(
    ("scope", "stage", "backup"),
    [
        (None, True, True),
        ("provider:volcengine", True, False),
        ("tag:dr", False, True),
        ("task:stage", True, False),
        ("task:backup", False, True),
    ],
)
async def test_scope_matching(
    deps: Deps, start_volc: Any, start_tencent: Any, scope: str | None, stage: bool, backup: bool
) -> None:
    await start_volc("stage", tags=STAGE.tags)
    await start_tencent("backup", tags=BACKUP.tags)
    await grants.grant(deps, BOOT_ADMIN, "UALICE", "operator", scope)
    assert (await authorize(deps, ALICE, "propose", STAGE)).allowed is stage
    assert (await authorize(deps, ALICE, "propose", BACKUP)).allowed is backup
    assert (await authorize(deps, ALICE, "view", None)).allowed is (scope is None)


async def test_roles_are_ordered(deps: Deps, start_volc: Any) -> None:
    await start_volc("stage", tags=STAGE.tags)
    await grants.grant(deps, BOOT_ADMIN, "UALICE", "approver", "task:stage")
    assert (await authorize(deps, ALICE, "view", STAGE)).allowed
    assert (await authorize(deps, ALICE, "propose", STAGE)).allowed
    assert (await authorize(deps, ALICE, "approve", STAGE)).allowed
    denied = await authorize(deps, ALICE, "admin", STAGE)
    assert not denied.allowed and denied.missing_role == "admin" and "approver" in denied.reason


async def test_group_grants_apply_to_members_in_the_same_team_only(deps: Deps) -> None:
    await grants.grant(deps, BOOT_ADMIN, "<!subteam^SOPS|@ops>", "operator")
    member = Actor(TEAM, "UCAROL", frozenset({"SOPS"}))
    assert (await authorize(deps, member, "propose", STAGE)).allowed
    assert not (await authorize(deps, Actor(TEAM, "UCAROL"), "propose", STAGE)).allowed
    assert not (await authorize(deps, Actor("TOTHER", "UCAROL", frozenset({"SOPS"})), "propose", STAGE)).allowed
    # a user ID that happens to equal a group ID does not pick up the group's grant
    assert not (await authorize(deps, Actor(TEAM, "SOPS"), "propose", STAGE)).allowed


async def test_expired_grants_count_for_nothing(deps: Deps, clock: Clock) -> None:
    await grants.grant(deps, BOOT_ADMIN, "UALICE", "operator", expires_at=clock.now.replace(hour=4))
    assert (await authorize(deps, ALICE, "propose", STAGE)).allowed
    clock.advance(hours=1)
    assert not (await authorize(deps, ALICE, "propose", STAGE)).allowed
    with pytest.raises(PermissionDenied) as denied:  # no role left anywhere: told so, not shown an empty list
        await grants.list_grants(deps, ALICE)
    assert denied.value.missing_role == "viewer"
    with pytest.raises(BadInput, match="past"):
        await grants.grant(deps, BOOT_ADMIN, "UALICE", "operator", expires_at=clock.now)


async def test_only_admins_grant(deps: Deps) -> None:
    await grants.grant(deps, BOOT_ADMIN, "UALICE", "approver")
    with pytest.raises(PermissionDenied) as caught:
        await grants.grant(deps, ALICE, "UBOB", "viewer")
    assert caught.value.missing_role == "admin"


async def test_no_granting_outside_own_scope(deps: Deps, start_volc: Any) -> None:
    await start_volc("stage", tags=("live",))
    await grants.grant(deps, BOOT_ADMIN, "UALICE", "admin", "provider:volcengine")
    # inside: the provider itself, and a task of that provider
    await grants.grant(deps, ALICE, "UBOB", "operator", "provider:volcengine")
    await grants.grant(deps, ALICE, "UBOB", "admin", "task:stage")
    for scope in (None, "provider:tencent", "tag:live"):
        with pytest.raises(PermissionDenied):
            await grants.grant(deps, ALICE, "UBOB", "viewer", scope)
    with pytest.raises(PermissionDenied):
        await grants.revoke(deps, ALICE, "UALICE", "admin", "provider:volcengine".replace("volcengine", "tencent"))


async def test_no_granting_above_own_role(deps: Deps, start_volc: Any) -> None:
    await start_volc("stage")
    await grants.grant(deps, BOOT_ADMIN, "UALICE", "admin", "task:stage")
    await grants.grant(deps, ALICE, "UBOB", "admin", "task:stage")  # equal is fine
    # an approver cannot hand out approver (or anything): granting itself is the admin's role
    await grants.grant(deps, BOOT_ADMIN, "UCAROL", "approver")
    with pytest.raises(PermissionDenied) as caught:
        await grants.grant(deps, Actor(TEAM, "UCAROL"), "UDAVE", "approver", "task:stage")
    assert caught.value.missing_role == "admin"
    # a task admin holding operator globally still cannot grant globally
    await grants.grant(deps, BOOT_ADMIN, "UALICE", "operator")
    with pytest.raises(PermissionDenied, match="admin is needed"):
        await grants.grant(deps, ALICE, "UDAVE", "operator")


async def test_fail_closed_when_the_store_raises(deps: Deps, tmp_path: Any) -> None:
    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path}/missing-dir/none.db")
    try:
        bad = Deps(session_factory(broken), deps.providers, deps.settings, deps.clock)
        decision = await authorize(bad, ALICE, "view", STAGE)
    finally:
        await broken.dispose()
        await sqlite_threads_done()  # the failed connect's worker thread, before the test's loop closes
    assert not decision.allowed
    assert "could not be checked" in decision.reason and decision.missing_role == "viewer"


async def test_fail_closed_when_the_schema_is_missing(deps: Deps, tmp_path: Any) -> None:
    empty = create_engine(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    try:
        bad = Deps(session_factory(empty), deps.providers, deps.settings, deps.clock)
        decision = await authorize(bad, ALICE, "approve", STAGE)
    finally:
        await empty.dispose()
        await sqlite_threads_done()
    assert not decision.allowed and "denied to be safe" in decision.reason


async def test_every_grant_and_revoke_is_audited(deps: Deps) -> None:
    await grants.grant(deps, BOOT_ADMIN, "UALICE", "operator", "tag:live")
    await grants.grant(deps, BOOT_ADMIN, "SOPS", "viewer")
    assert await grants.revoke(deps, BOOT_ADMIN, "UALICE", "operator", "tag:live") == 1
    with pytest.raises(Exception, match="not found"):
        await grants.revoke(deps, BOOT_ADMIN, "UALICE", "operator", "tag:live")
    async with deps.sessions() as session:
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    assert [(e.action, e.target, e.actor) for e in events] == [
        ("grant", "user:UALICE", "UBOOT"),
        ("grant", "group:SOPS", "UBOOT"),
        ("revoke", "user:UALICE", "UBOOT"),
    ]
    assert events[0].after == {"role": "operator", "scope": "tag:live", "expires_at": None}
    assert events[2].before == {"role": "operator", "scope": "tag:live", "expires_at": None, "count": 1}
    assert [e.detail for e in events] == [
        "operator on tag:live, no expiry",
        "viewer on global, no expiry",
        "operator on tag:live, had no expiry",
    ]


async def test_granting_the_same_role_and_scope_again_updates_the_expiry(deps: Deps, clock: Clock, start_volc: Any) -> None:
    await start_volc("stage")
    soon, later = clock.now + timedelta(hours=1), clock.now + timedelta(days=30)
    first = await grants.grant(deps, BOOT_ADMIN, "UALICE", "operator", "task:stage", expires_at=soon)
    again = await grants.grant(deps, BOOT_ADMIN, "<@UALICE>", "operator", "task:stage", expires_at=later)
    assert again.id == first.id and again.expires_at == later
    forever = await grants.grant(deps, BOOT_ADMIN, "UALICE", "operator", "task:stage")
    assert forever.id == first.id and forever.expires_at is None
    other = await grants.grant(deps, BOOT_ADMIN, "UALICE", "approver", "task:stage")  # another role: its own row
    assert other.id != first.id
    assert [(g.role, g.expires_at) for g in await grants.list_grants(deps, ALICE)] == [("operator", None), ("approver", None)]

    async with deps.sessions() as session:
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    assert [(e.action, e.detail) for e in events[1:]] == [
        ("grant", f"operator on task:stage, until {soon.isoformat()}"),
        ("grant.update", f"operator on task:stage: until {soon.isoformat()} -> until {later.isoformat()}"),
        ("grant.update", f"operator on task:stage: until {later.isoformat()} -> no expiry"),
        ("grant", "approver on task:stage, no expiry"),
    ]
    assert events[2].before == {"role": "operator", "scope": "task:stage", "expires_at": soon.isoformat()}
    assert events[2].after == {"role": "operator", "scope": "task:stage", "expires_at": later.isoformat()}
    assert all(e.task_alias == "stage" for e in events[1:])  # events[0] registered the task

    assert await grants.revoke(deps, BOOT_ADMIN, "UALICE", "operator", "task:stage") == 1
    assert [(g.role) for g in await grants.list_grants(deps, ALICE)] == ["approver"]


async def test_an_expired_grant_granted_again_comes_back_in_force(deps: Deps, clock: Clock) -> None:
    await grants.grant(deps, BOOT_ADMIN, "UALICE", "operator", expires_at=clock.now + timedelta(minutes=5))
    clock.advance(minutes=10)
    assert not (await authorize(deps, ALICE, "propose", STAGE)).allowed
    renewed = await grants.grant(deps, BOOT_ADMIN, "UALICE", "operator", expires_at=clock.now + timedelta(minutes=5))
    assert (await authorize(deps, ALICE, "propose", STAGE)).allowed
    async with deps.sessions() as session:
        rows = (await session.scalars(select(Grant).where(Grant.subject_id == "UALICE"))).all()
    assert [r.id for r in rows] == [renewed.id]


@pytest.mark.parametrize(
    ("role", "words"), [("viewer", "a viewer"), ("operator", "an operator"), ("approver", "an approver"), ("admin", "an admin")]
)
async def test_revoking_what_is_not_held_names_it_with_the_right_article(deps: Deps, role: str, words: str) -> None:
    with pytest.raises(NotFound) as caught:
        await grants.revoke(deps, BOOT_ADMIN, "UALICE", role, "tag:live")
    assert str(caught.value) == f"{words} grant on tag:live for UALICE not found"


async def test_listing_grants(deps: Deps) -> None:
    await grants.grant(deps, BOOT_ADMIN, "UALICE", "operator")
    await grants.grant(deps, BOOT_ADMIN, "UBOB", "viewer")
    mine = await grants.list_grants(deps, ALICE)
    assert [(g.subject_id, g.role) for g in mine] == [("UALICE", "operator")]
    with pytest.raises(PermissionDenied):
        await grants.list_grants(deps, ALICE, "UBOB")
    everyone = await grants.list_grants(deps, Actor.cli(TEAM, "ops"))
    assert {g.subject_id for g in everyone} == {"UALICE", "UBOB", "UBOOT"}


@pytest.mark.parametrize(
    ("subject", "role", "scope", "problem"),
    [
        ("alice", "viewer", None, "not a Slack user"),
        ("UALICE", "owner", None, "unknown role"),
        ("UALICE", "viewer", "room:1", "unknown scope"),
        ("UALICE", "viewer", "provider:aws", "unknown provider"),
        ("UALICE", "viewer", "task:nope", "no task called"),
    ],
)
async def test_bad_grant_input_gets_a_clear_message(deps: Deps, subject: str, role: str, scope: str | None, problem: str) -> None:
    with pytest.raises(BadInput, match=problem):
        await grants.grant(deps, BOOT_ADMIN, subject, role, scope)
