"""Helpers the end-to-end tests share. A module of its own (not conftest) so that tests import it by a name
that is unique on sys.path."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from typing import IO


def lines_until(proc: subprocess.Popen[str], marker: str, *, seconds: float = 30.0, what: str = "the child") -> list[str]:
    """The lines `proc` prints on stdout up to and including the first that starts with `marker`.

    A read from a pipe has no timeout of its own, so a child that hangs before printing the marker would hang
    the test (and CI) with it. The lines are read on a helper thread that stops at the marker, leaving the
    rest of stdout to the caller; if the marker has not come within `seconds`, or stdout ends first, the
    child is killed and the test fails saying so, with what the child printed."""
    assert proc.stdout is not None, "start the child with stdout=subprocess.PIPE"
    fd = proc.stdout.fileno()
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        # A byte at a time from the descriptor, not through the buffered file object: a buffered read would
        # also take whatever follows the marker, and the caller's proc.communicate() would never see it.
        line = bytearray()
        while byte := os.read(fd, 1):
            line += byte
            if byte == b"\n":
                text = line.decode(errors="replace")
                lines.put(text)
                if text.startswith(marker):
                    return
                line.clear()
        if line:
            lines.put(line.decode(errors="replace"))
        lines.put(None)  # end of stdout

    threading.Thread(target=pump, name=f"read {what}", daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    try:
        while True:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                problem = f"{what} closed its stdout (exit code {proc.poll()}) before printing a line starting {marker!r}"
                break
            seen.append(line)
            if line.startswith(marker):
                return seen
    except queue.Empty:
        problem = f"{what} printed no line starting {marker!r} within {seconds:g} s (hung?)"
    proc.kill()
    proc.wait(timeout=10)
    raise AssertionError(f"{problem}; it printed:\n{''.join(seen)}{_stderr(proc)}")


def _stderr(proc: subprocess.Popen[str], seconds: float = 5.0) -> str:
    """What the (killed) child wrote on stderr, if it was piped; read with a bound too."""
    stream: IO[str] | None = proc.stderr
    if stream is None:
        return ""
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.read()), daemon=True)
    reader.start()
    reader.join(seconds)
    return f"\nstderr:\n{box[0]}" if box else "\n(stderr still open after the kill)"
