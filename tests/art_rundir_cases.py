"""The run-directory cases of tests/test_rundir.py and bench/crash.py, run against
openpipe-art's own ``art.Model`` under ``art_metrics.install()`` beside ``art_metrics.Model``,
with the same assertions for both kinds.

Shared by tests/test_rundir_art.py (openpipe-art 0.5.18) and
tests/differential_0523/test_rundir_art_0523.py (0.5.23). Each case takes the model kind:

* ``"art_metrics"``: ``art_metrics.Model``;
* ``"art_installed"``: ``art.Model`` created after ``art_metrics.install()``;
* ``"art"``: plain ``art.Model`` (no install). It fails these cases (a kill during its
  state.json rewrite leaves the file empty and every later start dies with
  ``JSONDecodeError``); the suites run it only in `plain_art_kill_case`, which asserts that,
  and ``python bench/crash.py --library reference`` measures it.

Run as a script, this file is the other process of a case:
``python art_rundir_cases.py ROLE KIND BASE [ARG]`` (see `main`).

Every logged row is ``log_row(model, seq)``: a train row adding a cost of 0.5, one item and the
scenario ids ``id<seq>`` and ``common<seq % 7>``, so `check_history` recomputes every row's
running totals from the rows before it (as tests/test_crash_safety.py and bench/crash.py do).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import art_metrics
from art_metrics.art_patch import is_installed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

# The crash benchmark's checks: each row's totals recomputed from the rows before it, and
# whether state.json is torn.
from crash import check as check_history  # noqa: E402
from crash import torn_state as state_file_is_torn  # noqa: E402

KINDS = ("art_metrics", "art_installed")
PROJECT = "p"
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(sys.path),
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}
RUN_FILES = [".art_metrics.lock", "history.jsonl", "state.journal", "state.json"]


# --- models of either kind --------------------------------------------------------------


@contextlib.contextmanager
def installed(kind: str) -> Iterator[None]:
    """In the test process: ``install()`` for ``"art_installed"`` (uninstalled again after,
    unless it already was), nothing for the other kinds."""
    if kind != "art_installed" or is_installed():
        yield
        return
    art_metrics.install()
    try:
        yield
    finally:
        art_metrics.uninstall()


def open_model(kind: str, base: Path | str, name: str) -> Any:
    if kind == "art_metrics":
        return art_metrics.Model(name=name, project=PROJECT, base_path=str(base))
    if (kind == "art_installed") != is_installed():
        raise RuntimeError(f"kind {kind!r}: install() is {is_installed()}")
    import art

    model = art.Model(name=name, project=PROJECT, base_path=str(base))
    # The takeover is what is under test: an art.Model without it would test openpipe-art.
    assert (model.__dict__.get("_art_metrics_run") is not None) == (kind == "art_installed")
    return model


def close_model(model: Any) -> None:
    """``close()``: fold the journal and release the run directory (a reader: nothing)."""
    if isinstance(model, art_metrics.Model):
        model.close()
    elif (run := model.__dict__.get("_art_metrics_run")) is not None:
        run.close()


def run_dir(base: Path | str, name: str) -> Path:
    return Path(base) / PROJECT / "models" / name


async def log_row(model: Any, seq: int) -> None:
    model.metrics_builder("train").add_data(scenario_ids=[f"id{seq}", f"common{seq % 7}"])
    await model.log(
        None,
        split="train",
        step=seq,
        metrics={"seq": seq, "costs/train/work": 0.5, "data/step_items": 1},
    )


def log(model: Any, seq: int) -> None:
    asyncio.run(log_row(model, seq))


def cum(state: dict | None, key: str = "data/cum/items") -> float | None:
    return None if state is None else state["_metrics_builder_state"]["cum_state"].get(key)


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def history_rows(directory: Path) -> list[str]:
    history = directory / "history.jsonl"
    return history.read_text().splitlines() if history.exists() else []


def _script(role: str, kind: str, base: Path, *args: str, **popen: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, role, kind, str(base), *args], env=ENV, text=True, **popen
    )


# --- (a) SIGKILL during logging, repeated -----------------------------------------------


def kill_and_restart(base: Path, kind: str, *, kills: int, seed: int = 1234) -> dict[str, Any]:
    """SIGKILLs a logging process `kills` times, each at a random moment after its second
    row; a new process resumes the run each time. Returns the figures that must be zero:
    kills after which state.json was torn (not a whole JSON object), failed restarts (a
    process that stopped on its own), hung ones, and from the history after the last kill:
    torn lines and rows whose totals are not the sum of the rows before.

    The logging processes are forked from one process that has imported art_metrics (and
    openpipe-art) but opened no run: each is a new writer that loads the run directory as a
    fresh start does, without paying openpipe-art's ~3 s import 20 times (bench/crash.py
    starts a new interpreter per kill).
    """
    rng = random.Random(seed)
    directory = run_dir(base, "k")
    history = directory / "history.jsonl"
    failures = base / "failures"
    failures.mkdir(parents=True)
    out: dict[str, Any] = {"torn state.json": 0, "failed restarts": 0, "hung": 0}
    errors: list[str] = []

    def complete_rows() -> int:  # a torn last row has no newline yet
        return history.read_bytes().count(b"\n") if history.exists() else 0

    forker = _script("forker", kind, base, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        for _ in range(kills):
            before = complete_rows()
            forker.stdin.write("go\n")
            forker.stdin.flush()
            line = forker.stdout.readline()
            assert line, f"the forking process died: rc {forker.wait()}"
            pid = int(line)
            failed = failures / f"{pid}.txt"
            deadline = time.monotonic() + 120  # only so that a hanging writer fails the case
            while complete_rows() < before + 2 and not failed.exists():
                if time.monotonic() > deadline:
                    out["hung"] += 1
                    break
                time.sleep(0.002)
            if not failed.exists():
                time.sleep(rng.uniform(0, 0.05))
                os.kill(pid, signal.SIGKILL)  # not reaped yet: the forker waits for it
            line = forker.stdout.readline()
            assert line, f"the forking process died: rc {forker.wait()}"
            status = int(line)
            if status != -signal.SIGKILL:
                out["failed restarts"] += 1
                errors.append(failed.read_text() if failed.exists() else f"exit {status}")
            out["torn state.json"] += state_file_is_torn(directory)
    finally:
        forker.stdin.close()
        forker.wait(timeout=60)
        forker.stdout.close()
    out |= check_history(directory)
    out["errors"] = errors[:2]
    return out


def kill_case(base: Path, kind: str, *, kills: int) -> None:
    """Case (a): after `kills` SIGKILLs, no torn file, no failed restart, every row's totals
    exact; a last restart loads the run and its totals equal the rows logged, exactly."""
    result = kill_and_restart(base, kind, kills=kills)
    n = result["rows"]
    # The last kill may tear the last history line (a write cut between two pages): the
    # last restart below repairs it, and the history is checked again after it.
    torn_last_line = result.pop("torn lines")
    assert torn_last_line <= 1, result
    assert result == {
        "torn state.json": 0,
        "failed restarts": 0,
        "hung": 0,
        "rows": n,
        "wrong totals": 0,
        "errors": [],
    }, result
    assert n >= 2 * kills, "every writer logged two rows before it was killed"
    directory = run_dir(base, "k")
    with installed(kind):
        model = open_model(kind, base, "k")
        log(model, n)
        close_model(model)
    rows = history_rows(directory)
    assert len(rows) == n + 1
    assert check_history(directory) == {"rows": n + 1, "torn lines": 0, "wrong totals": 0}
    state = json.loads((directory / "state.json").read_text())
    assert cum(state) == n + 1 == len(rows)
    assert cum(state, "costs/cum/all") == 0.5 * (n + 1)
    ids = {f"id{s}" for s in range(n + 1)} | {f"common{s % 7}" for s in range(n + 1)}
    assert set(state["_metrics_builder_state"]["unique_scenario_ids"]) == ids
    assert sorted(p.name for p in directory.iterdir()) == RUN_FILES


def plain_art_kill_case(base: Path, *, kills: int) -> dict[str, Any]:
    """openpipe-art's own ``Model`` (no install) under the same kills: its log rewrites
    state.json in place (truncate, then write), so a kill leaves it empty or cut short and
    every later start dies with ``JSONDecodeError``; a kill between the history row and the
    state.json write resumes without that row's totals. Asserts that at least one of these
    shows (each of 6 runs of 6 kills did on the development machine)."""
    result = kill_and_restart(base, "art", kills=kills)
    assert result["torn state.json"] + result["failed restarts"] + result["wrong totals"] > 0, (
        result
    )
    return result


async def _log_until_killed(kind: str, base: str) -> None:
    model = open_model(kind, base, "k")
    model.metrics_builder()  # opens (repairs, folds) the run directory, as a resume does
    seq = len(history_rows(run_dir(base, "k")))
    rng = random.Random()
    while True:
        await log_row(model, seq)
        seq += 1
        if rng.random() < 0.05:
            model.read_state()
        if rng.random() < 0.02:
            model.merge_state({"user": {"last_seq": seq}})  # folds: killed during it too


def _forker(kind: str, base: str) -> None:
    """For each line on stdin, forks a logging process, prints its pid, waits for it and
    prints its exit status (negative: the signal). A process that fails writes why to
    BASE/failures/<pid>.txt."""
    import art  # noqa: F401 - imported once here, not in every logging process

    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                asyncio.run(_log_until_killed(kind, base))
            except BaseException:  # noqa: BLE001 - reported to the test
                Path(base, "failures", f"{os.getpid()}.txt").write_text(traceback.format_exc())
            finally:
                os._exit(code)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)


# --- (b) a reader process ----------------------------------------------------------------


def reader_case(base: Path, kind: str, *, reads: int, min_rows: int) -> None:
    """Case (b): another process opening the run (read_state, metrics_builder, close) while
    the writer logs loses no row and sees totals that only grow; once the writer pauses, its
    reads see every row (the journal, not only state.json) and change no byte of any file."""
    directory = run_dir(base, "r")
    ready = base / "reader-ready"
    with installed(kind):
        model = open_model(kind, base, "r")
        log(model, 0)
        reader = _script(
            "reader",
            kind,
            base,
            str(reads),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        n = 1
        while not ready.exists() or n < min_rows:
            assert reader.poll() is None, reader.communicate()
            log(model, n)
            n += 1
            time.sleep(0.001)  # a reader folds the whole journal: keep it to thousands
        before = files(directory)
        out, err = reader.communicate("again\n", timeout=120)
        assert reader.returncode == 0, err
        assert files(directory) == before, "the reader changed a file"
        seen = json.loads(out)
        assert seen["during"] == sorted(seen["during"]), seen
        assert all(1 <= items <= n for items in seen["during"]), seen
        assert seen["after"] == [n] * 3, (seen, n)
        rows = [json.loads(r) for r in history_rows(directory)]
        assert [r["training_step"] for r in rows] == list(range(n))
        assert check_history(directory) == {"rows": n, "torn lines": 0, "wrong totals": 0}
        close_model(model)
        del model
        gc.collect()
        assert cum(open_model(kind, base, "r").read_state()) == n


def _reader(kind: str, base: str, reads: str) -> None:
    def read() -> float:
        model = open_model(kind, base, "r")
        items = cum(model.read_state())
        model.metrics_builder()
        close_model(model)
        return items

    during = []
    for _ in range(int(reads)):
        during.append(read())
        time.sleep(0.005)
    Path(base, "reader-ready").touch()
    sys.stdin.readline()  # the writer has paused
    print(json.dumps({"during": during, "after": [read() for _ in range(3)]}))


# --- (c) two writers -----------------------------------------------------------------------


def two_writers_case(base: Path, kind: str) -> None:
    """Case (c): a second process's write is refused with an OSError naming the run
    directory and the writer's pid, and changes nothing; once the writer closes, it may."""
    directory = run_dir(base, "w")
    with installed(kind):
        model = open_model(kind, base, "w")
        log(model, 0)
        before = files(directory)
        other = _script(
            "second-writer",
            kind,
            base,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        refused = other.stdout.readline()
        assert f"pid {os.getpid()}" in refused and "models/w" in refused, (
            refused + other.communicate()[1]
        )
        assert files(directory) == before, "the refused write changed a file"
        close_model(model)  # releases the lock: now the other process may write
        out, err = other.communicate("retry\n", timeout=60)
        assert (other.returncode, out) == (0, "logged\n"), err
        again = open_model(kind, base, "w")
        assert cum(again.read_state()) == 2
        assert check_history(directory) == {"rows": 2, "torn lines": 0, "wrong totals": 0}


def _second_writer(kind: str, base: str) -> None:
    model = open_model(kind, base, "w")
    try:
        log(model, 1)
        print("logged, not refused", flush=True)
    except OSError as e:
        print(str(e).replace("\n", " "), flush=True)
    sys.stdin.readline()  # the first writer has closed
    log(model, 1)
    print("logged", flush=True)


# --- (d) a corrupt journal line ------------------------------------------------------------


def corrupt_journal_case(base: Path, kind: str) -> None:
    """Case (d): after a writer is killed, a bad journal line in the middle warns (file,
    line), the entries after it still count, a tail torn inside a UTF-8 character opens, and
    the writer keeps the bad journal beside as state.journal.corrupt-<time>."""
    import pytest

    directory = run_dir(base, "j")
    writer = _script("killed-writer", kind, base, stderr=subprocess.PIPE)
    _, err = writer.communicate(timeout=120)
    assert writer.returncode == -signal.SIGKILL, err
    journal = directory / "state.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    assert len(lines) == 10, "a header and 9 entries"
    lines[2] = lines[2].replace(b'"seq"', b'"sEq"')
    broken = b"".join(lines) + '{"seq": 99, "row": "é'.encode()[:-1]
    journal.write_bytes(broken)
    with installed(kind):
        with pytest.warns(
            RuntimeWarning, match=r"state\.journal: line\(s\) 3 .*restored from the entries after"
        ):
            again = open_model(kind, base, "j")
            again.metrics_builder()
        assert cum(again.read_state()) == 9, "the entries after the bad line count"
        with pytest.warns(RuntimeWarning, match="kept as"):
            log(again, 9)
        kept = [p for p in directory.iterdir() if p.name.startswith("state.journal.corrupt-")]
        assert [p.read_bytes() for p in kept] == [broken]
        close_model(again)
        state = json.loads((directory / "state.json").read_text())
    rows = [json.loads(r) for r in history_rows(directory)]
    assert [(r["data/cum/items"], r["costs/cum/all"]) for r in rows] == [
        (i + 1, 0.5 * (i + 1)) for i in range(10)
    ]
    assert (cum(state), cum(state, "costs/cum/all")) == (10, 5.0)
    # No scenario id is lost: the entry after the bad line (row 1's) repeats the ids it saw
    # first (issue #21, case 7).
    ids = {f"id{s}" for s in range(10)} | {f"common{s % 7}" for s in range(10)}
    assert set(state["_metrics_builder_state"]["unique_scenario_ids"]) == ids
    assert rows[-1]["data/cum/num_unique_scenarios"] == len(ids)


def _killed_writer(kind: str, base: str) -> None:
    model = open_model(kind, base, "j")
    for seq in range(9):
        log(model, seq)
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no fold at exit


# --- (e) forks while threads log and record ------------------------------------------------


def fork_case(base: Path, kind: str, *, forks: int) -> None:
    """Case (e): fork()s while threads record into and flush the model's builder, and
    fork()s while a thread logs rows: no child hangs or fails, each child's write is refused
    naming the parent's pid, and the parent's rows and totals stay exact."""
    from fork_stress import fork_while_recording

    directory = run_dir(base, "f")
    with installed(kind), warnings.catch_warnings():
        # Python 3.12 warns about fork() in a process with threads: what is tested here.
        warnings.filterwarnings("ignore", r".*multi-threaded.*fork", DeprecationWarning)
        recorder = open_model(kind, base, "recorded")
        recorded = fork_while_recording(recorder.metrics_builder(), forks=forks)
        assert (recorded.hung, recorded.failed, recorded.thread_errors) == (0, 0, []), recorded
        model = open_model(kind, base, "f")
        logged = fork_while_logging(model, forks=forks)
        assert logged["hung"] == 0, logged
        assert logged["children"] == {"refused, naming the parent": forks}, logged
        assert logged["thread errors"] == [], logged
        n = logged["rows"]
        assert n >= 2
        assert check_history(directory) == {"rows": n, "torn lines": 0, "wrong totals": 0}
        assert cum(model.read_state()) == n
        close_model(model)
        assert cum(json.loads((directory / "state.json").read_text())) == n


def fork_while_logging(model: Any, *, forks: int) -> dict[str, Any]:
    """`forks` fork() calls while a thread logs rows (so the parent holds the run directory's
    lock and may be inside a write); each child tries one log and exits."""
    parent = os.getpid()
    stop = threading.Event()
    rows = [0]
    errors: list[str] = []
    children: dict[str, int] = {}
    hung = 0

    def writer() -> None:
        try:
            while not stop.is_set():
                log(model, rows[0])
                rows[0] += 1
        except Exception as e:  # noqa: BLE001 - counted, not hidden
            errors.append(repr(e))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while rows[0] < 1 and thread.is_alive():
            time.sleep(0.001)
        for _ in range(forks):
            pid = os.fork()
            if pid == 0:
                code = 3
                try:
                    log(model, 10**6)
                    code = 2
                except OSError as e:
                    code = 0 if f"pid {parent}" in str(e) else 4
                finally:
                    os._exit(code)
            deadline = time.monotonic() + 10  # a child needs milliseconds
            while time.monotonic() < deadline:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    code = os.waitstatus_to_exitcode(status)
                    what = {
                        0: "refused, naming the parent",
                        2: "logged into the parent's run",
                        4: "refused without the parent's pid",
                    }.get(code, f"exit {code}")
                    children[what] = children.get(what, 0) + 1
                    break
                time.sleep(0.001)
            else:
                hung += 1
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
    finally:
        stop.set()
        thread.join()
    return {"rows": rows[0], "hung": hung, "children": children, "thread errors": errors}


class ChildHung(AssertionError):
    """A forked child did not finish in time."""


def fork_during_first_load_case(
    base: Path, kind: str, *, ids: int = 100_000, after_the_load: bool = False
) -> float:
    """Case (e), the first load: a fork while another thread loads the run (the first
    ``metrics_builder()`` of a model whose state.json holds many scenario ids); the child
    then loads too. Raises `ChildHung` when the child waits forever for the load lock that
    the parent's loading thread held at the fork (each model's Python load lock is renewed
    in a forked child, as the core's locks are repaired)."""
    directory = run_dir(base, "big")
    directory.mkdir(parents=True)
    state = {
        "_metrics_builder_state": {
            "cum_state": {"data/cum/items": 7.0},
            "unique_scenario_ids": [f"s{i}" for i in range(ids)],
        }
    }
    (directory / "state.json").write_text(json.dumps(state))
    with installed(kind), warnings.catch_warnings():
        warnings.filterwarnings("ignore", r".*multi-threaded.*fork", DeprecationWarning)
        model = open_model(kind, base, "big")
        run = model.__dict__.get("_art_metrics_run")
        lock = (model if run is None else run)._load_lock  # noqa: SLF001
        loader = threading.Thread(target=model.metrics_builder)
        loader.start()
        deadline = time.monotonic() + 10
        while not lock.locked():
            assert loader.is_alive() and time.monotonic() < deadline, "no load seen to fork in"
        if after_the_load:  # the control: the same fork once the load is done
            loader.join()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                model.metrics_builder()
                code = 0 if cum(model.read_state()) == 7 else 2
            finally:
                os._exit(code)
        loader.join()
        deadline = started + 3  # its own load takes a tenth of that
        while not (done := os.waitpid(pid, os.WNOHANG))[0]:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise ChildHung("the child forked during the first load hung in its own load")
            time.sleep(0.005)
        assert os.waitstatus_to_exitcode(done[1]) == 0
        assert cum(model.read_state()) == 7
        return time.monotonic() - started


# --- the other process of a case -----------------------------------------------------------


def main(role: str, kind: str, base: str, *args: str) -> None:
    if kind == "art_installed":
        art_metrics.install()
    roles = {
        "forker": _forker,
        "reader": _reader,
        "second-writer": _second_writer,
        "killed-writer": _killed_writer,
    }
    roles[role](kind, base, *args)


if __name__ == "__main__":
    main(*sys.argv[1:])
