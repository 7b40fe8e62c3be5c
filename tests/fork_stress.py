"""fork() while threads record into a builder: shared by tests/test_rundir.py (ours must never
hang) and bench/reliability.py (both libraries' figures for the README)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ForkResult:
    hung: int = 0  # children killed after 10 s
    failed: int = 0  # children that exited non-zero
    thread_errors: list[str] = field(default_factory=list)  # exception names of dead threads


def fork_while_recording(
    builder: Any, *, forks: int, threads: int = 4, stop_at_first_hang: bool = False
) -> ForkResult:
    """`forks` fork() calls while `threads` threads record into and flush `builder`; each
    child records and flushes once and exits."""
    out = ForkResult()
    stop = threading.Event()

    def work(i: int) -> None:
        try:
            while not stop.is_set():
                builder.add_cost(f"train/t{i}", 0.001)
                if i == 0:
                    asyncio.run(builder.flush())
        except Exception as e:  # noqa: BLE001 - counted, not hidden
            out.thread_errors.append(type(e).__name__)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    try:
        for _ in range(forks):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    builder.add_cost("train/child", 1.0)
                    asyncio.run(builder.flush())
                    code = 0
                finally:
                    os._exit(code)
            deadline = time.monotonic() + 10  # a child needs milliseconds
            while time.monotonic() < deadline:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    out.failed += os.waitstatus_to_exitcode(status) != 0
                    break
                time.sleep(0.001)
            else:
                out.hung += 1
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                if stop_at_first_hang:
                    break
    finally:
        stop.set()
        for w in workers:
            w.join()
    return out
