"""Registering a task the provider does not know: Tencent's NotExist is refused (a typo must not go
unnoticed) unless forced; Volcengine's Get cannot tell a typo from a task older than 72 hours, so that is a
warning. The same service answers /rtc and the admin CLI."""

from __future__ import annotations

from typing import Any

import pytest
from svc_support import APP_ID, BOOT_ADMIN, ROOM_ID, SDK_APP_ID, Sims

from bot.cli.wording import terminal
from bot.services import tasks
from bot.services.deps import Deps
from bot.services.errors import BadInput, TaskNotFound, UnknownAtProvider

TENCENT, VOLCENGINE = "tencent", "volcengine"


async def test_tencent_task_that_does_not_exist_is_refused_unless_forced(deps: Deps, sims: Sims) -> None:
    typo = (str(SDK_APP_ID), "-no-such-task")
    with pytest.raises(UnknownAtProvider) as caught:
        await tasks.add_task(deps, BOOT_ADMIN, TENCENT, "lobby", typo)
    assert isinstance(caught.value, BadInput)
    assert str(caught.value) == (
        f"Tencent says task -no-such-task of SdkAppId {SDK_APP_ID} does not exist in ap-singapore "
        "(DescribeStreamIngest: NotExist); check the ids and the region"
    )
    assert terminal(caught.value).endswith("; --force registers it anyway")
    assert await tasks.list_tasks(deps, BOOT_ADMIN) == []

    forced = await tasks.add_task(deps, BOOT_ADMIN, TENCENT, "lobby", typo, force=True)
    assert forced.provider is not None and forced.provider.state == "NotExist"
    assert forced.warnings == (f"{caught.value}; registered anyway",)
    assert [t.alias for t in await tasks.list_tasks(deps, BOOT_ADMIN)] == ["lobby"]


async def test_tencent_task_that_ended_is_refused_too(deps: Deps, start_tencent: Any, sims: Sims) -> None:
    added = await start_tencent("first")
    task_id = added.task.identifiers["TaskId"]
    assert added.warnings == ()
    sims.tencent.end_task(SDK_APP_ID, task_id)
    with pytest.raises(UnknownAtProvider, match="NotExist"):
        await tasks.add_task(deps, BOOT_ADMIN, TENCENT, "again", (str(SDK_APP_ID), task_id))


async def test_volcengine_task_that_get_does_not_find_is_registered_with_a_warning(deps: Deps, start_volc: Any) -> None:
    await start_volc("real", register=False)
    added = await tasks.add_task(deps, BOOT_ADMIN, VOLCENGINE, "old", (APP_ID, ROOM_ID, "t-older-than-72h"))
    assert added.baseline_source == "none" and added.task.version == 0
    assert added.provider is not None and added.provider.running is False
    [warning] = added.warnings
    assert "Get does not find TaskId t-older-than-72h in room room1 of AppId app1" in warning
    assert "last 72 hours" in warning and "check the ids" in warning
    found = await tasks.add_task(deps, BOOT_ADMIN, VOLCENGINE, "real", (APP_ID, ROOM_ID, "t-real"))
    assert found.warnings == () and found.baseline_source == "provider"


async def test_an_unreachable_provider_is_a_warning_not_a_refusal(deps: Deps, sims: Sims) -> None:
    sims.tencent.fail_with_status(503, action="DescribeStreamIngest", times=None)
    added = await tasks.add_task(deps, BOOT_ADMIN, TENCENT, "lobby", (str(SDK_APP_ID), "-abc"))
    assert added.provider is not None and added.provider.state == "unavailable"
    [warning] = added.warnings
    assert warning.startswith("the provider could not be asked about the task: ")


async def test_terminal_wording_never_points_at_slash_rtc(deps: Deps) -> None:
    with pytest.raises(TaskNotFound) as caught:
        await tasks.show_task(deps, BOOT_ADMIN, "nope")
    assert "/rtc" not in str(caught.value) and caught.value.alias == "nope"
    assert terminal(caught.value) == "no task called 'nope' in this team; `rtcops task list` lists them"


async def test_registration_is_parsed_once_whatever_the_surface(deps: Deps) -> None:
    """The target checks ids and options; the service checks the names every task has."""
    with pytest.raises(BadInput, match="AppId, RoomId and TaskId"):
        await tasks.add_task(deps, BOOT_ADMIN, VOLCENGINE, "stage", (APP_ID, ROOM_ID))
    with pytest.raises(BadInput, match="unknown option region= for a volcengine task"):
        await tasks.add_task(deps, BOOT_ADMIN, VOLCENGINE, "stage", (APP_ID, ROOM_ID, "t"), {"region": "ap-tokyo"})
    with pytest.raises(BadInput, match="canvas must look like 1280x720"):
        await tasks.add_task(deps, BOOT_ADMIN, VOLCENGINE, "stage", (APP_ID, ROOM_ID, "t"), {"canvas": "big"})
    with pytest.raises(BadInput, match="channel 'nope' is not valid"):
        await tasks.add_task(deps, BOOT_ADMIN, VOLCENGINE, "stage", (APP_ID, ROOM_ID, "t"), {"channel": "nope"})
    with pytest.raises(BadInput, match="alias"):
        await tasks.add_task(deps, BOOT_ADMIN, VOLCENGINE, "-stage", (APP_ID, ROOM_ID, "t"))
    with pytest.raises(BadInput, match="SdkAppId must be a positive whole number"):
        await tasks.add_task(deps, BOOT_ADMIN, TENCENT, "lobby", ("abc", "t"))
    with pytest.raises(BadInput, match="Volume must be in \\[0, 100\\] on the intl site"):
        await tasks.add_task(deps, BOOT_ADMIN, TENCENT, "lobby", (str(SDK_APP_ID), "t"), {"volume": "150"})
    with pytest.raises(BadInput, match="unknown provider 'zoom'"):
        await tasks.add_task(deps, BOOT_ADMIN, "zoom", "lobby", ("1",))
    assert await tasks.list_tasks(deps, BOOT_ADMIN) == []


async def test_aliases_are_case_insensitive(deps: Deps, start_volc: Any) -> None:
    await start_volc("real", register=False)
    added = await tasks.add_task(deps, BOOT_ADMIN, VOLCENGINE, "Real", (APP_ID, ROOM_ID, "t-real"))
    assert added.task.alias == "real"
    assert (await tasks.show_task(deps, BOOT_ADMIN, "REAL")).task.alias == "real"
