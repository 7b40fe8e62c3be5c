"""Reliability cases run against art-metrics and openpipe-art 0.5.18, with figures side by side.

    python bench/reliability.py            # every case, both libraries
    python bench/reliability.py --smoke    # small sizes
    python bench/reliability.py --run-dir  # only the run-directory cases (issue #10)

The same functions back tests/test_reliability.py, which asserts that art-metrics loses nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fork_stress import fork_while_recording  # noqa: E402

# An OpenAI chat response priced by both libraries' built-in catalogs (openai/gpt-4.1:
# $2/M prompt, $8/M completion): 1000 prompt + 100 completion tokens = $0.0028.
JUDGE_RESPONSE = {"usage": {"prompt_tokens": 1000, "completion_tokens": 100}}
JUDGE_COST = 0.0028


@dataclass
class Outcome:
    expected: dict[str, float]
    recorded: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def lost_fraction(self) -> float:
        want = sum(self.expected.values())
        got = sum(self.recorded.get(k, 0.0) for k in self.expected)
        return max(0.0, (want - got) / want) if want else 0.0

    def exact(self) -> bool:
        return not self.errors and all(
            abs(self.recorded.get(k, 0.0) - v) <= 1e-9 * max(1.0, v)
            for k, v in self.expected.items()
        )


def _collect(outcome: Outcome, row: dict, lock: threading.Lock) -> None:
    with lock:
        for ctx in outcome.expected:
            outcome.recorded[ctx] = outcome.recorded.get(ctx, 0.0) + row.get(f"costs/{ctx}", 0.0)


def threads_case(
    builder_cls, track_api_cost, *, n_threads: int = 8, per_thread: int = 2000
) -> Outcome:
    """`n_threads` threads record costs directly and through `track_api_cost`, half in train and
    half in eval, while another thread flushes both contexts in a loop."""
    root = builder_cls("train")
    contexts = {"train": root, "eval": root.for_cost_context("eval")}
    per_context = n_threads // 2 * per_thread * (0.001 + JUDGE_COST)
    outcome = Outcome(expected={"train": per_context, "eval": per_context})
    lock, stop = threading.Lock(), threading.Event()

    def record(i: int, ctx: str) -> None:
        # Each thread has its own keys, as judges of different rubrics would: new keys arrive
        # after every flush while other threads are checking theirs.
        builder = contexts[ctx]
        judge = track_api_cost(
            source=f"llm_judge/rubric{i}", provider="openai", model_name="openai/gpt-4.1"
        )(lambda: JUDGE_RESPONSE)
        try:
            with builder.activate_context():
                for _ in range(per_thread):
                    builder.add_cost(f"{ctx}/direct{i}", 0.001)
                    judge()
        except Exception as e:  # noqa: BLE001 - counted, not hidden
            outcome.errors.append(f"{type(e).__name__}: {e}")

    def flusher() -> None:
        while not stop.is_set():
            for builder in contexts.values():
                try:
                    _collect(outcome, asyncio.run(builder.flush()), lock)
                except Exception as e:  # noqa: BLE001
                    outcome.errors.append(f"{type(e).__name__}: {e}")

    f = threading.Thread(target=flusher)
    f.start()
    workers = [
        threading.Thread(target=record, args=(i, "train" if i % 2 else "eval"))
        for i in range(n_threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    f.join()
    for builder in contexts.values():
        _collect(outcome, asyncio.run(builder.flush()), lock)
    return outcome


def asyncio_case(builder_cls, track_api_cost, *, n_tasks: int = 1000) -> Outcome:
    """`n_tasks` concurrent tasks judge in train and eval contexts, with flushes in between."""
    root = builder_cls("train")
    contexts = {"train": root, "eval": root.for_cost_context("eval")}

    @track_api_cost(source="llm_judge/correctness", provider="openai", model_name="openai/gpt-4.1")
    async def judge():
        await asyncio.sleep(0)
        return JUDGE_RESPONSE

    per_context = n_tasks // 2 * 3 * JUDGE_COST
    outcome = Outcome(expected={"train": per_context, "eval": per_context})
    lock = threading.Lock()

    async def task(i: int) -> None:
        with contexts["train" if i % 2 else "eval"].activate_context():
            for _ in range(3):
                await judge()

    async def flushes(done: asyncio.Event) -> None:
        while not done.is_set():
            for builder in contexts.values():
                _collect(outcome, await builder.flush(), lock)
            await asyncio.sleep(0)

    async def main() -> None:
        done = asyncio.Event()
        flusher = asyncio.create_task(flushes(done))
        try:
            await asyncio.gather(*(task(i) for i in range(n_tasks)))
        except Exception as e:  # noqa: BLE001
            outcome.errors.append(f"{type(e).__name__}: {e}")
        done.set()
        await flusher
        for builder in contexts.values():
            _collect(outcome, await builder.flush(), lock)

    asyncio.run(main())
    return outcome


# -- run directory (issue #10) -------------------------------------------------------------

READER = """
import os, sys, time
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
if sys.argv[3] == "reference":
    from art import Model
else:
    from art_metrics import Model
base, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    m = Model(name="r", project="p", base_path=base)
    try:
        m.read_state()
    except Exception:
        pass
    if hasattr(m, "close"):
        m.close()
    del m
    time.sleep(0.01)
"""


def _model_class(library: str):
    if library == "reference":
        from art import Model
    else:
        from art_metrics import Model
    return Model


def _log(model, step: int, **metrics) -> None:
    asyncio.run(model.log(None, split="train", step=step, metrics=metrics))


def _history_steps(run_dir: Path) -> list[int]:
    out = []
    for line in (run_dir / "history.jsonl").read_text().splitlines():
        try:
            out.append(json.loads(line)["step"])
        except (ValueError, KeyError):
            pass
    return out


def reader_case(library: str, *, rows: int = 1500, opens: int = 100) -> str:
    """A reader process opens the run `opens` times while `rows` rows are logged."""
    base = tempfile.mkdtemp(prefix=f"reader-{library}-")
    model = _model_class(library)(name="r", project="p", base_path=base)
    _log(model, 0, **{"data/step_items": 1})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    reader = subprocess.Popen([sys.executable, "-c", READER, base, str(opens), library], env=env)
    for i in range(1, rows):
        _log(model, i, **{"data/step_items": 1})
        if i == rows - 1 and reader.poll() is None:
            reader.wait()
    reader.wait()
    steps = _history_steps(Path(base) / "p" / "models" / "r")
    lost = len(set(range(rows)) - set(steps))
    dup = len(steps) - len(set(steps))
    return f"{lost} of {rows:,} rows lost, {dup} duplicated ({opens} opens)"


def history_case(library: str) -> str:
    """Truncate, rotate and delete history.jsonl during a run and between runs: does the
    running total continue exactly?"""
    cls = _model_class(library)
    results = []
    for action in ("truncate", "rotate", "delete"):
        base = tempfile.mkdtemp(prefix=f"history-{library}-")
        model = cls(name="h", project="p", base_path=base)
        history = Path(base) / "p" / "models" / "h" / "history.jsonl"
        for i in range(10):
            _log(model, i, **{"data/step_items": 1})
        if action == "truncate":
            history.write_text("")
        elif action == "rotate":
            history.rename(history.with_name("history.jsonl.1"))
        else:
            history.unlink()
        _log(model, 10, **{"data/step_items": 1})
        if hasattr(model, "close"):
            model.close()
        del model
        gc.collect()
        model = cls(name="h", project="p", base_path=base)
        _log(model, 11, **{"data/step_items": 1})
        last = json.loads(history.read_text().splitlines()[-1])
        results.append(f"{action}: {last['data/cum/items']:g}/12")
        if hasattr(model, "close"):
            model.close()
    return ", ".join(results)


def corrupt_journal_case() -> str:
    """A journal record in the middle fails its checksum (art-metrics only: the reference
    has no journal)."""
    import warnings

    from art_metrics import Model

    base = tempfile.mkdtemp(prefix="corrupt-")
    model = Model(name="c", project="p", base_path=base)
    for i in range(20):
        model.metrics_builder().add_data(scenario_ids=[f"s{i}"])
        _log(model, i, **{"data/step_items": 1})
    run_dir = Path(model.run_dir)
    model._finalizer.detach()  # a crash: no close
    model._run = None
    del model
    gc.collect()
    journal = run_dir / "state.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[10] = lines[10].replace(b"1", b"7", 1)
    journal.write_bytes(b"".join(lines))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = Model(name="c", project="p", base_path=base)
        state = model.read_state()["_metrics_builder_state"]
    items = state["cum_state"]["data/cum/items"]
    ids = len(state["unique_scenario_ids"])
    kinds = "; ".join(str(w.message).split(": ", 1)[1][:140] for w in caught)
    return f"restored {items:g} of 20 items, {ids} of 20 scenario ids; warning: {kinds}"


def fork_case(builder_cls, *, forks: int = 150, threads: int = 4) -> str:
    """`forks` fork() calls while `threads` threads record into and flush a builder: how
    many children hang (killed after 10 s)?"""
    r = fork_while_recording(builder_cls("train"), forks=forks, threads=threads)
    died = sorted(set(r.thread_errors))
    errors = f", {len(r.thread_errors)} of {threads} threads died ({', '.join(died)})"
    return f"{r.hung} of {forks} children hung, {r.failed} failed" + (errors if died else "")


def run_dir_cases(smoke: bool) -> None:
    import warnings

    from art.metrics import MetricsBuilder as RefBuilder
    from art_metrics import MetricsBuilder

    warnings.simplefilter("ignore", DeprecationWarning)  # os.fork() in a threaded process
    rows, opens = (300, 20) if smoke else (1500, 100)
    forks = 30 if smoke else 150
    print(
        f"| a reader process opens the run {opens}× while {rows:,} rows are logged "
        f"| {reader_case('art-metrics', rows=rows, opens=opens)} "
        f"| {reader_case('reference', rows=rows, opens=opens)} |"
    )
    print(
        f"| history.jsonl truncated / rotated / deleted mid-run (items total after 12 rows) "
        f"| {history_case('art-metrics')} | {history_case('reference')} |"
    )
    print(f"| a journal record corrupted in the middle | {corrupt_journal_case()} | no journal |")
    print(
        f"| {forks} forks while 4 threads use a builder "
        f"| {fork_case(MetricsBuilder, forks=forks)} | {fork_case(RefBuilder, forks=forks)} |"
    )


def describe(outcome: Outcome) -> str:
    kinds = sorted({e.split(":")[0] for e in outcome.errors})
    errs = f"{len(outcome.errors)} errors ({', '.join(kinds)})" if outcome.errors else "no errors"
    return f"{outcome.lost_fraction():.1%} of cost lost, {errs}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--run-dir", action="store_true", help="only the run-directory cases")
    args = parser.parse_args()
    if args.run_dir:
        print("| case | art-metrics | openpipe-art 0.5.18 |")
        print("| --- | --- | --- |")
        run_dir_cases(args.smoke)
        return
    from art.metrics import MetricsBuilder as RefBuilder
    from art.metrics import track_api_cost as ref_track
    from art_metrics import MetricsBuilder, track_api_cost

    per_thread = 200 if args.smoke else 2000
    n_tasks = 100 if args.smoke else 1000
    print("| case | art-metrics | openpipe-art 0.5.18 |")
    print("| --- | --- | --- |")
    ours = threads_case(MetricsBuilder, track_api_cost, per_thread=per_thread)
    ref = threads_case(RefBuilder, ref_track, per_thread=per_thread)
    print(
        f"| 8 threads × {per_thread} costs (direct + track_api_cost), flusher thread | {describe(ours)} | {describe(ref)} |"
    )
    ours = asyncio_case(MetricsBuilder, track_api_cost, n_tasks=n_tasks)
    ref = asyncio_case(RefBuilder, ref_track, n_tasks=n_tasks)
    print(
        f"| {n_tasks} asyncio tasks judging in train/eval, flushes between | {describe(ours)} | {describe(ref)} |"
    )
    run_dir_cases(args.smoke)


if __name__ == "__main__":
    main()
