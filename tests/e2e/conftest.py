"""`rtcops sandbox providers` as a real subprocess on free ports, with the settings it prints."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_support import lines_until

RTCOPS = str(Path(sys.executable).with_name("rtcops"))
_SETTING = re.compile(r"^([A-Z][A-Z0-9_]+)=(\S+)$")
_OURS = ("VOLC_", "TENCENTCLOUD_", "RTCOPS_")


@dataclass
class Sandbox:
    env: dict[str, str]
    settings: dict[str, str]
    workdir: Path

    def run(self, *args: str, **overrides: str | None) -> subprocess.CompletedProcess[str]:
        """Run `rtcops ARGS`; an override of None removes that variable."""
        merged = {**self.env, **overrides}
        env = {k: v for k, v in merged.items() if v is not None}
        return subprocess.run([RTCOPS, *args], env=env, cwd=self.workdir, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def providers_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    workdir = tmp_path_factory.mktemp("cli")  # no .env here, so only the printed settings apply
    base = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    proc = subprocess.Popen(
        [RTCOPS, "sandbox", "providers", "--port", "0"], cwd=workdir, env=base, stdout=subprocess.PIPE, text=True
    )
    banner = lines_until(proc, "Press Ctrl-C", what="rtcops sandbox providers")
    settings = {m.group(1): m.group(2) for m in (_SETTING.match(line.strip()) for line in banner) if m}
    try:
        yield Sandbox(env={**base, **settings}, settings=settings, workdir=workdir)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
