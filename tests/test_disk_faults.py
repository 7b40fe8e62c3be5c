"""Model.log on a full disk and on a read-only run directory.

A log whose row cannot be saved raises an OSError naming the file, leaves every file as it
was, and leaves the builder as it was before the call: the values pending before it (a
judge's cost) are kept for the next successful log, and retrying the call counts everything
exactly once. Each case runs twice: on a real size-limited tmpfs (mounted here, as root) and
with the failure injected at the run directory's write layer. Where mounting is not
permitted (no root, no CAP_SYS_ADMIN) the tmpfs case is skipped, saying why.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import subprocess
from pathlib import Path

import art_metrics
import pytest
from art_metrics import _core

# Both cases (a real tmpfs, injected failures) reset the injected failures between steps.
pytestmark = pytest.mark.test_hooks


class Disk:
    """A directory whose writes can be made to fail: really (tmpfs) or by injection."""

    def __init__(self, root: Path, real: bool):
        self.base, self.real = root, real
        self.filler = root / "filler"

    def fill(self) -> None:
        if not self.real:
            _core._fail_next_appends(100, errno.ENOSPC)
            return
        with open(self.filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError as e:
                assert e.errno == errno.ENOSPC

    def free(self) -> None:
        _core._fail_next_appends(0, 0)
        self.filler.unlink(missing_ok=True)

    def read_only(self) -> None:
        if self.real:
            assert _mount("-o", "remount,ro", str(self.base)).returncode == 0
        else:
            _core._fail_next_appends(100, errno.EROFS)

    def writable(self) -> None:
        if self.real:
            assert _mount("-o", "remount,rw", str(self.base)).returncode == 0
        _core._fail_next_appends(0, 0)


def _mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture(params=["tmpfs", "injected"])
def disk(request, tmp_path):
    root = tmp_path / "disk"
    root.mkdir()
    real = request.param == "tmpfs"
    if real:
        mounted = _mount("-t", "tmpfs", "-o", "size=256k", "tmpfs", str(root))
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield Disk(root, real)
    finally:
        # Every step, even after a failing one: a leaked mount breaks later runs' clean-up.
        try:
            _core._fail_next_appends(0, 0)
            gc.collect()  # close the models' files before unmounting
        finally:
            if real:
                subprocess.run(["umount", "-l", str(root)], capture_output=True)


def log(model, step, **metrics) -> None:
    asyncio.run(model.log(None, split="train", step=step, metrics=metrics))


# A row longer than a page, so that it needs new space even when the file's last page has room.
PAD = {"pad/" + "x" * 5000: 1.0}


def files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir())}


def rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def check_failed_log_changed_nothing(model, run_dir: Path, step: int, message: str):
    builder = model.metrics_builder()
    state, before = builder.state_dict(), files(run_dir)
    with pytest.raises(OSError) as info:
        log(model, step, **{"costs/train/judge": 1.0, "data/step_items": 1}, **PAD)
    text = str(info.value)
    # The first write of a process takes the writer lock: on a read-only directory that fails.
    assert any(f in text for f in ("history.jsonl", "state.journal", ".art_metrics.lock")), text
    assert message in text, text
    assert files(run_dir) == before, "a failed log must leave every file as it was"
    assert builder.state_dict() == state, "a failed log must not change the totals"
    return text


def check_retry_counts_once(model, run_dir: Path, step: int):
    log(model, step, **{"costs/train/judge": 1.0, "data/step_items": 1}, **PAD)
    last = rows(run_dir)[-1]
    assert len(rows(run_dir)) == 2
    assert last["costs/train/judge"] == 1.25  # the pending 0.25 plus this call's 1.0
    assert last["costs/cum/all"] == 1.75
    assert last["data/cum/items"] == 2
    assert last["data/cum/num_unique_scenarios"] == 2
    reopened = art_metrics.Model(name="m", project="p", base_path=str(model.base_path))
    cum = reopened.metrics_builder().state_dict()["cum_state"]
    assert cum["costs/cum/all"] == 1.75 and cum["data/cum/items"] == 2


def first_step(model) -> Path:
    log(model, 1, **{"costs/train/judge": 0.5, "data/step_items": 1})
    builder = model.metrics_builder()
    builder.add_data(scenario_ids=["s1"])
    builder.add_cost("train/judge", 0.25)  # a judge's cost, pending for the next log
    builder.add_data(scenario_ids=["s2"])
    return Path(model.run_dir)


def test_full_disk_log_raises_keeps_the_step_and_corrupts_nothing(disk):
    model = art_metrics.Model(name="m", project="p", base_path=str(disk.base))
    run_dir = first_step(model)
    disk.fill()
    text = check_failed_log_changed_nothing(model, run_dir, 2, "No space left on device")
    # Still full: a second try fails the same way and still changes nothing.
    assert check_failed_log_changed_nothing(model, run_dir, 2, "No space left") == text
    disk.free()
    check_retry_counts_once(model, run_dir, 2)


def test_read_only_run_directory_log_raises_and_keeps_the_step(disk):
    writer = art_metrics.Model(name="m", project="p", base_path=str(disk.base))
    log(writer, 1, **{"costs/train/judge": 0.5, "data/step_items": 1})
    writer.close()
    del writer
    gc.collect()  # a read-only remount needs no file open for writing
    disk.read_only()
    model = art_metrics.Model(name="m", project="p", base_path=str(disk.base))
    run_dir = Path(model.run_dir)
    builder = model.metrics_builder()  # loading a read-only run directory works
    assert builder.state_dict()["cum_state"]["costs/cum/all"] == 0.5
    builder.add_data(scenario_ids=["s1"])
    builder.add_cost("train/judge", 0.25)
    builder.add_data(scenario_ids=["s2"])
    check_failed_log_changed_nothing(model, run_dir, 2, "Read-only file system")
    disk.writable()
    check_retry_counts_once(model, run_dir, 2)


def test_a_close_that_fails_on_a_full_disk_lets_the_same_model_go_on(disk):
    """Issue #21 case 6: after close() fails (disk full), the same Model logs again once there
    is space, and the value pending at the failure counts once (it used to be refused as
    "written by someone else since this Model loaded its totals", its pending $0.25 lost)."""
    model = art_metrics.Model(name="m", project="p", base_path=str(disk.base))
    run_dir = Path(model.run_dir)
    for step in (1, 2):
        log(model, step, **{"costs/train/judge": 1.0, "data/step_items": 1})
    model.metrics_builder().add_cost("train/judge", 0.25)  # pending across the failure
    model.metrics_builder().add_data(scenario_ids=["s1"])
    disk.fill()
    with pytest.raises(OSError):
        model.close()
    disk.free()
    log(model, 3, **{"costs/train/judge": 1.0, "data/step_items": 1})
    model.close()
    assert [r["training_step"] for r in rows(run_dir)] == [1, 2, 3]
    del model
    gc.collect()
    reopened = art_metrics.Model(name="m", project="p", base_path=str(disk.base))
    state = reopened.metrics_builder().state_dict()
    assert state["cum_state"]["costs/cum/all"] == 3.25
    assert state["cum_state"]["data/cum/items"] == 3
    assert state["unique_scenario_ids"] == ["s1"]
