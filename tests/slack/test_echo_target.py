"""A new kind of provider task is one module plus a registry line: the test-only "echo" target runs the
whole flow over signed HTTP (register, its own /rtc subcommand, approve, apply, history, rollback) through
services and handlers that know nothing of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from echo_target import EchoTarget
from slack_support import REQUEST_CHANNEL, U1, U2, Env, ephemeral_from, eventually, has_buttons, request_message

from bot.targets import registry
from handlers import blocks

ROOT = Path(__file__).parents[2]


@pytest.fixture
def echo() -> Iterator[EchoTarget]:
    target = EchoTarget()
    registry.register(target)  # the one registry line a real target would add to bot/targets/registry.py
    try:
        yield target
    finally:
        registry.unregister(target.name)


async def _outcome(env: Env, parent: object) -> str:
    found = await eventually(
        lambda: [m for m in env.fake.thread(REQUEST_CHANNEL, parent.ts) if "RequestId" in json.dumps(m.blocks)],  # type: ignore[attr-defined]
        "the outcome in the thread",
    )
    return json.dumps(found[-1].blocks)


async def test_a_new_target_runs_the_whole_flow_with_no_change_to_services_or_handlers(echo: EchoTarget, env: Env) -> None:
    echo.start("k1", {"colour": "blue", "size": "m"})
    for text, needle in (
        ("task add echo lamp k1", "lamp"),
        (f"grant <@{U1}|operator> operator", U1),
        (f"grant <@{U2}|approver> approver provider:echo", "provider:echo"),
    ):
        assert (await env.command("UADMIN", text)).status_code == 200
        answer = await ephemeral_from(env, "UADMIN", needle)
    assert "registered, version 1; configuration read from the provider" in await ephemeral_from(env, "UADMIN", "lamp")
    assert "provider:echo" in answer

    help_answer = (await env.command(U1, "help")).json()
    assert "/rtc echo <alias> <name>=<value>" in help_answer["text"] and "/rtc task add echo <alias> <Key>" in help_answer["text"]
    wrong = (await env.command(U1, "echo lamp colour")).json()
    assert "name=value" in wrong["text"] and "/rtc echo <alias>" in wrong["text"]

    await env.command(U1, "echo lamp colour=red")
    parent = await eventually(lambda: request_message(env), "the echo request message")
    assert has_buttons(parent) and "colour blue → red" in json.dumps(parent.blocks, ensure_ascii=False)
    await env.click(U2, parent, blocks.APPROVE)
    assert "Applied* as version 2" in await _outcome(env, parent)
    assert echo.tasks["k1"].configuration == {"colour": "red", "size": "m"}

    await env.command(U1, "history lamp")
    history = await ephemeral_from(env, U1, "is at version 2")
    assert "v2" in history and "v1" in history and "colour=red" in history

    await env.command(U1, "rollback lamp 1")
    back = await eventually(lambda: [m for m in env.request_messages(REQUEST_CHANNEL) if m.ts != parent.ts], "the rollback")
    assert "colour red → blue" in json.dumps(back[0].blocks, ensure_ascii=False)
    await env.click(U2, back[0], blocks.APPROVE)
    assert "Applied* as version 3" in await _outcome(env, back[0])
    assert echo.tasks["k1"].configuration == {"colour": "blue", "size": "m"}
    numbers = [n for n, _ in echo.tasks["k1"].updates]
    assert len(numbers) == 2 and numbers[0] < numbers[1], "each update carried a higher SequenceNumber"

    await env.command(U1, "layout lamp")  # a command of another target is refused with this target's own
    refusal = await ephemeral_from(env, U1, "does not apply")
    assert "`/rtc echo lamp`" in refusal


def test_the_services_and_handlers_never_name_a_target() -> None:
    """What made the flow above work is in the target module alone."""
    for folder in ("bot/services", "handlers"):
        for path in sorted((ROOT / folder).glob("*.py")):
            assert "echo" not in path.read_text(encoding="utf-8").lower(), path
