"""Named places where a test can make this process die as `kill -9` would, to prove that a change survives a
crash at exactly that step. Off unless RTCOPS_FAILPOINTS names the point (comma-separated); read on every hit,
so nothing is cached that a test could not set. Nothing else in rtcops reads this variable.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "RTCOPS_FAILPOINTS"
POINTS = frozenset({"after-approve-commit", "after-provider-answer"})


def failpoint(name: str) -> None:
    if name not in POINTS:
        raise ValueError(f"unknown failpoint {name!r}")
    wanted = os.environ.get(VARIABLE)
    if wanted and name in {p.strip() for p in wanted.split(",")}:
        os.kill(os.getpid(), signal.SIGKILL)
