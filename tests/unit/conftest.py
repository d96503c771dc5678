"""Serve ASGI apps (the provider simulators) on real loopback sockets for client tests."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn


class LoopbackServer:
    """uvicorn on 127.0.0.1, port 0, in a daemon thread: real HTTP, no fixed port to collide on."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("loopback server did not start")
            time.sleep(0.01)
        return self

    @property
    def url(self) -> str:
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture(scope="session")
def volcengine_sim() -> Iterator[tuple[str, Any]]:
    from bot.sandbox.volcengine_sim import create_volcengine_sim

    app, state = create_volcengine_sim()
    with LoopbackServer(app) as server:
        yield server.url, state


@pytest.fixture(scope="session")
def tencent_sim() -> Iterator[tuple[str, Any]]:
    from bot.sandbox.tencent_sim import create_tencent_sim

    app, state = create_tencent_sim()
    with LoopbackServer(app) as server:
        yield server.url, state


@pytest.fixture(scope="session")
def tencent_china_sim() -> Iterator[tuple[str, Any]]:
    from bot.sandbox.tencent_sim import create_tencent_sim

    app, state = create_tencent_sim(site="china")
    with LoopbackServer(app) as server:
        yield server.url, state


_CHILD = """
import json, socket, sys, uvicorn
module, factory = sys.argv[1].split(":")
app, _ = getattr(__import__(module, fromlist=[factory]), factory)()
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
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
