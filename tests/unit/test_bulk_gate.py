"""The watcher holds its polls while a bulk apply runs in the process (bot.services.deps.BulkGate), never longer
than the gate's hold: a slow bulk must not silence the watcher."""

from __future__ import annotations

import asyncio
import time

from bot.services.deps import BulkGate


async def test_nothing_running_lets_polls_through_at_once() -> None:
    gate = BulkGate()
    await asyncio.wait_for(gate.clear(), 0.1)


async def test_a_running_bulk_holds_polls_until_it_ends() -> None:
    gate = BulkGate()
    ended = asyncio.Event()

    async def bulk() -> None:
        with gate.running():
            await asyncio.sleep(0.3)
        ended.set()

    running = asyncio.create_task(bulk())
    await asyncio.sleep(0)
    started = time.monotonic()
    await gate.clear()
    assert ended.is_set() and time.monotonic() - started >= 0.25
    await running


async def test_overlapping_bulks_hold_until_the_last_ends() -> None:
    gate = BulkGate()
    with gate.running():
        with gate.running():
            pass
        waiting = asyncio.create_task(gate.clear())
        await asyncio.sleep(0.05)
        assert not waiting.done(), "one bulk is still running"
    await asyncio.wait_for(waiting, 0.1)


async def test_a_bulk_longer_than_the_hold_lets_polls_through_after_the_hold() -> None:
    gate = BulkGate()
    gate.HOLD_SECONDS = 0.2
    with gate.running():
        started = time.monotonic()
        await asyncio.wait_for(gate.clear(), 1.0)
        held = time.monotonic() - started
        assert 0.15 <= held < 0.6
        await asyncio.wait_for(gate.clear(), 0.05)  # past the hold: no further wait while the same bulk runs
