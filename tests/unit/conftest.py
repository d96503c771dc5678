"""Serve ASGI apps (the provider simulators) on real loopback sockets for client tests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from bot.sandbox.serve import BackgroundServer


@pytest.fixture(scope="session")
def volcengine_sim() -> Iterator[tuple[str, Any]]:
    from bot.sandbox.volcengine_sim import create_volcengine_sim

    app, state = create_volcengine_sim()
    with BackgroundServer(app) as server:
        yield server.url, state


@pytest.fixture(scope="session")
def tencent_sim() -> Iterator[tuple[str, Any]]:
    from bot.sandbox.tencent_sim import create_tencent_sim

    app, state = create_tencent_sim()
    with BackgroundServer(app) as server:
        yield server.url, state


@pytest.fixture(scope="session")
def tencent_china_sim() -> Iterator[tuple[str, Any]]:
    from bot.sandbox.tencent_sim import create_tencent_sim

    app, state = create_tencent_sim(site="china")
    with BackgroundServer(app) as server:
        yield server.url, state


_CHILD = """
import json, sys, uvicorn
from bot.sandbox.serve import bind
module, factory = sys.argv[1].split(":")
app, _ = getattr(__import__(module, fromlist=[factory]), factory)()
sock = bind("127.0.0.1", 0)
print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[sock])
"""


class ChildServer:
    """A simulator in its own process, driven through its /_sandbox endpoints: load tests measure the
    client and the pacer, not two event loops sharing one interpreter lock."""

    def __init__(self, factory: str) -> None:
        self._proc = subprocess.Popen([sys.executable, "-c", _CHILD, factory], stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._proc.kill()
            raise RuntimeError(f"simulator {factory} did not start")
        self.url = f"http://127.0.0.1:{json.loads(line)['port']}"

    def close(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


@pytest.fixture(scope="module")
def volcengine_child() -> Iterator[str]:
    server = ChildServer("bot.sandbox.volcengine_sim:create_volcengine_sim")
    yield server.url
    server.close()


@pytest.fixture(scope="module")
def tencent_child() -> Iterator[str]:
    server = ChildServer("bot.sandbox.tencent_sim:create_tencent_sim")
    yield server.url
    server.close()
