"""Delivery of a `Model`'s rows to its reporters, off the training loop (issue #24).

`Model.log` returns once its row is in history.jsonl and queued here. Each reporter has a
`_Lane`: its place in the queue and a thread of its own that gives it the rows in order,
one ``log`` call per row, so a slow or failing backend holds up neither the training loop
nor the other reporters.

Invariants:

- ``rows[i]`` is row number ``base + i`` of this process; a lane's ``received`` counts (from
  0) the rows its reporter took (its ``log`` returned) or that were dropped for it. The queue
  keeps the rows from the smallest ``received`` on. A row is counted only when ``log``
  returned, so no row is given twice; a failed row is given again, after a pause.
- A lane's thread is the only caller of its reporter's ``log``. ``start`` and ``finish`` are
  called from the Model's thread while the lane is idle (``busy`` claims it).
- One lock (a Condition, which `drain` waits on) per Delivery, never held while a reporter
  runs. A lane's thread sleeps on its own doorbell; `log` rings one lane's, and each lane
  woken rings the next one's: waking a thread costs the logging thread a few tens of
  microseconds on a busy machine, so it wakes one, not one per reporter.
- What a reporter has not received when the process ends is kept in the run directory (the
  core's ``.art_metrics.undelivered.json``: the rows and each lane's place) for the next
  process, which gives them to the reporter at the same place if it is of the same class.
- A queue longer than ``max_rows`` for one reporter drops that reporter's oldest rows (said in
  a warning naming it): ``log`` never waits for a backend.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import threading
import time
import warnings
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, Union

from . import budget as _budget
from ._core import RunCore, _set_call_handler

# (typing's aliases: evaluated at import, and the package supports Python 3.9)
Row = dict[str, Union[float, int]]
# A queued row and the keys that are the caller's own metrics (0.5.23's W&B filter).
Queued = tuple[Row, Any]


class Reporter(Protocol):
    """Anything that wants every logged row (W&B, MLflow, a console printer, ...).

    ``row`` has the prefixed keys, ``training_step`` (and in 0.5.18's dialect
    ``time/wall_clock_sec``), and keeps NaN values (history.jsonl leaves them out). Optional
    methods: ``start()`` (called from the logging thread before the first row, to open the
    backend's run), ``finish()`` (by ``Model.close``), ``record_call(**call)`` (each priced
    API call of the run, from the thread that made it) and ``take_warnings() -> list[str]``
    (messages the Model gives as ``RuntimeWarning`` in the logging thread: ``log`` runs in
    the reporter's own thread, where a warning would reach no one).
    """

    def log(self, row: dict[str, float | int]) -> None: ...


def reporter_key(reporter: object) -> str:
    """What identifies a reporter across processes (with its place): its class."""
    cls = type(reporter)
    return f"{cls.__module__}.{cls.__qualname__}"


def _retry_delay(failures: int) -> float:
    """Seconds before a failing reporter is given its row again: 1, 2, 4, ... 60."""
    return float(min(60, 2 ** min(failures - 1, 6)))


class _Lane:
    """One reporter's place in the queue, its thread and its failures."""

    __slots__ = (
        "attempts",
        "busy",
        "cause",
        "doorbell",
        "dropped",
        "failures",
        "inflight",
        "key",
        "received",
        "reporter",
        "retry_at",
        "started",
        "thread",
    )

    def ring(self) -> None:
        """Wakes the lane's thread (again: a no-op)."""
        try:
            self.doorbell.release()
        except RuntimeError:  # already rung
            pass

    def ready(self, written: int, now: float) -> bool:
        """Whether the lane has a row to give now (under the Delivery's lock)."""
        return self.received < written and not self.busy and now >= self.retry_at

    def __init__(self, reporter: Any, received: int) -> None:
        self.reporter = reporter
        self.key = reporter_key(reporter)
        self.received = received
        self.busy = False  # a call into the reporter is running
        self.inflight = -1  # the row a running `log` call was given
        self.started = False  # start() was called since the last finish()
        self.thread: threading.Thread | None = None
        # Released ("rung") to wake the lane's thread; held while there is nothing new.
        self.doorbell = threading.Lock()
        self.doorbell.acquire()
        self.cause: tuple[type, str] | None = None  # the failure last raised, until a success
        self.failures = 0  # in a row
        self.retry_at = 0.0  # time.monotonic() before which a failed row is not given again
        self.attempts = 0  # rows given (taken or failed), for drain
        self.dropped = 0  # rows dropped since the lane last caught up


def _give(reporter: Any, row: Row, caller_keys: Any) -> None:
    # Each reporter gets its own copy: reporters run in different threads.
    if caller_keys is not None and getattr(reporter, "takes_caller_keys", False):
        reporter.log(dict(row), caller_keys=caller_keys)
    else:
        reporter.log(dict(row))


class Delivery:
    """A Model's rows not yet received by every reporter, and the lanes that deliver them."""

    # Rows one reporter may fall behind before its oldest are dropped (with a warning).
    max_rows = 10_000

    def __init__(self, run: RunCore, run_dir: str, reporters: Sequence[Any]) -> None:
        self._run = run
        self._run_dir = run_dir
        self.rows: collections.deque[Queued] = collections.deque()
        self.base = 0
        self.lanes = [_Lane(reporter, 0) for reporter in reporters]
        self._lock = threading.Condition()
        # Exceptions of new causes and warnings (dropped rows) for the caller's thread.
        self._errors: list[BaseException] = []
        self._notes: list[str] = []
        # Per reporter (by id) whose record_call failed: the cause last raised.
        self._call_causes: dict[int, tuple[type, str]] = {}
        self._stopping = False
        self.on_disk = False  # the run directory holds rows kept for the reporters
        # The reporters with record_call: given each priced call of the run from the start
        # (a run's first calls come before its first row).
        self.call_reporters: tuple[Any, ...] = ()
        self._update_call_reporters()
        self._exit_hook_at: int | None = None
        _deliveries.add(self)

    # -- the caller's side ---------------------------------------------------------------

    def queued(self) -> int:
        """How many rows this process has queued (delivered ones included)."""
        with self._lock:
            return self.base + len(self.rows)

    def kick(self, reporters: Sequence[Any], *, retry: bool = False) -> None:
        """Hands the queued rows to the lanes (after the caller appended to ``rows``): adds
        lanes for reporters appended to ``reporters``, drops what a lane is too far behind
        in, calls ``start()`` of reporters with rows and no open run, and starts threads.
        ``retry``: failing reporters get their row again now."""
        if not self.lanes and not reporters:
            with self._lock:  # nobody to deliver to
                self.base += len(self.rows)
                self.rows.clear()
            return
        with self._lock:
            written = self.base + len(self.rows)
            for reporter in reporters[len(self.lanes) :]:
                # A reporter appended later gets the rows written after this.
                self.lanes.append(_Lane(reporter, written))
                self._update_call_reporters()
            to_start = []
            for lane in self.lanes:
                if retry:
                    lane.retry_at = 0.0
                # A row being given counts as given.
                waiting = lane.received + (lane.inflight == lane.received)
                if written - waiting > self.max_rows:
                    self._drop_oldest(lane, waiting, written - waiting - self.max_rows)
                if lane.received < written and not lane.started and not lane.busy:
                    lane.busy = True
                    to_start.append(lane)
            self._trim()
            if not to_start:
                self._ring_next(-1)
        if to_start:
            self._start(to_start)
            with self._lock:
                self._ring_next(-1)
        elif self._exit_hook_at is None:
            self._add_exit_hook()
        for lane in self.lanes:
            if lane.thread is None and lane.received < written and not self._stopping:
                self._start_thread(lane)

    def _ring_after(self, lane: _Lane) -> None:
        # Under the lock: `_ring_next` after ``lane``'s place.
        for place, other in enumerate(self.lanes):
            if other is lane:
                self._ring_next(place)
                return

    def _ring_next(self, after: int) -> None:
        # Under the lock: wakes the first lane after place ``after`` with a row to give now
        # (a busy lane looks for its next row when its call returns; a failing one when its
        # pause is over).
        written = self.base + len(self.rows)
        now = time.monotonic()
        for lane in self.lanes[after + 1 :]:
            if lane.thread is not None and lane.ready(written, now):
                lane.ring()
                return

    def raise_new_error(self) -> None:
        """Gives the warnings queued for the caller (the reporters', rows dropped), then
        raises the first reporter failure of a new cause since the last call, if any."""
        if not self._errors and not self._notes:
            return
        with self._lock:
            errors, self._errors = self._errors, []
            notes, self._notes = self._notes, []
        for note in notes:
            warnings.warn(note, RuntimeWarning, stacklevel=3)
        if errors:
            raise errors[0]

    def drain(self, timeout: float | None, reporters: Sequence[Any]) -> dict[str, int]:
        """Waits until every reporter received every row queued so far, each failing one
        having been given its row once more, or until ``timeout`` seconds passed. Returns,
        per reporter (``key#place``) still short of rows, how many it has not received."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            attempts = {id(lane): lane.attempts for lane in self.lanes}
        self.kick(reporters, retry=True)
        with self._lock:
            written = self.base + len(self.rows)
        inline = [lane for lane in self.lanes if lane.thread is None]
        for lane in inline:  # no thread could be started (interpreter shutdown)
            while lane.received < written and self._step(lane) and _before(deadline):
                pass
        with self._lock:
            while True:
                waiting = [
                    lane
                    for lane in self.lanes
                    if lane.received < written
                    and lane.thread is not None
                    and not (
                        lane.cause is not None
                        and lane.attempts > attempts.get(id(lane), -1)
                        and not lane.busy
                    )
                ]
                remaining = None if deadline is None else deadline - time.monotonic()
                if not waiting or (remaining is not None and remaining <= 0):
                    break
                self._lock.wait(remaining)
            return {
                f"{lane.key}#{place}": written - lane.received
                for place, lane in enumerate(self.lanes)
                if lane.received < written
            }

    def finish(self) -> list[str]:
        """Calls ``finish()`` of every started reporter that is idle (a later row starts it
        again); returns the reporters (``key#place``) left unfinished, still in a call. The
        exit hook is removed: what is left is kept on disk (`save`) for the next start."""
        with self._lock:
            idle = [lane for lane in self.lanes if lane.started and not lane.busy]
            busy = [f"{lane.key}#{p}" for p, lane in enumerate(self.lanes) if lane.busy]
            for lane in idle:
                lane.busy = True
        try:
            for lane in idle:
                finish = getattr(lane.reporter, "finish", None)
                try:
                    if callable(finish):
                        finish()
                finally:
                    with self._lock:
                        lane.busy = False
                        lane.started = False
                        self._lock.notify_all()
        finally:
            self._remove_exit_hook()
        return busy

    def record_call(self, call: Mapping[str, Any]) -> None:
        """Gives a priced call to each reporter with ``record_call``, in the calling thread
        (it starts itself if need be); a failure is raised by the run's next log, once per
        cause until a call succeeds, as a failing ``log`` is (the priced call itself does
        not fail)."""
        for reporter in self.call_reporters:
            try:
                reporter.record_call(**call)
            except Exception as exc:  # noqa: BLE001 - raised by the next log, once per cause
                cause = (type(exc), str(exc))
                with self._lock:
                    if self._call_causes.get(id(reporter)) != cause:
                        self._call_causes[id(reporter)] = cause
                        if len(self._errors) < 100:
                            self._errors.append(exc)
            else:
                if self._call_causes:
                    self._call_causes.pop(id(reporter), None)

    # -- keeping rows across processes ----------------------------------------------------

    def save(self) -> None:
        """Keeps the undelivered rows (each lane's place among them) for the next process,
        or removes the kept ones when every reporter has received everything."""
        with self._lock:
            self._save_locked()

    def restore(self, reporters: Sequence[Any]) -> None:
        """Queues the rows an earlier process kept, for the reporters it had at the same
        places (same class); other reporters are not given them. Called before any log."""
        data = self._run.read_undelivered()
        if data is None:
            return
        self.on_disk = True
        try:
            kept = json.loads(data)
            rows = [(dict(row), keys) for row, keys in kept["rows"]]
            before = [(r["key"], int(r["received"])) for r in kept["reporters"]]
        except (ValueError, TypeError, KeyError) as err:
            warnings.warn(
                f"{self._run_dir}: the rows kept for reporters could not be read ({err}); "
                "they are not delivered",
                RuntimeWarning,
                stacklevel=4,
            )
            return
        with self._lock:
            self.rows = collections.deque(rows)
            self.base = 0
            self.lanes = []
            for place, reporter in enumerate(reporters):
                lane = _Lane(reporter, len(rows))
                if place < len(before) and before[place][0] == lane.key:
                    lane.received = min(max(before[place][1], 0), len(rows))
                self.lanes.append(lane)
            self._trim()

    def shutdown(self, timeout: float | None, reporters: Sequence[Any]) -> dict[str, int]:
        """At exit or when the Model is collected: delivers for up to ``timeout`` seconds
        (``None``: `EXIT_TIMEOUT_S`), stops the lanes and keeps what is left for the next
        process. Once stopped, it only keeps."""
        if timeout is None:
            timeout = EXIT_TIMEOUT_S
        left = self.drain(timeout, reporters) if self.rows and not self._stopping else {}
        with self._lock:
            self._stopping = True
            for lane in self.lanes:
                lane.ring()
            self._save_locked()
        self._remove_exit_hook()
        return left

    # -- the lanes' side ----------------------------------------------------------------

    def _start(self, lanes: list[_Lane]) -> None:
        # In the logging thread: a backend's run is opened where its errors are seen, and
        # an exit hook registered after the backend's own runs first (W&B finishes its
        # runs at exit; ours delivers before).
        try:
            for lane in lanes:
                start = getattr(lane.reporter, "start", None)
                try:
                    if callable(start):
                        start()
                except Exception as exc:  # noqa: BLE001 - raised by this log, once per cause
                    with self._lock:
                        self._failed(lane, exc)
                finally:
                    with self._lock:
                        lane.busy = False
                        lane.started = True
                        self._lock.notify_all()
        finally:
            self._add_exit_hook()

    def _start_thread(self, lane: _Lane) -> None:
        thread = threading.Thread(target=self._serve, args=(weakref.ref(self), lane), daemon=True)
        thread.name = f"art_metrics reporter {lane.key}"
        try:
            thread.start()
        except RuntimeError:  # interpreter shutdown: `drain` delivers in its own thread
            return
        lane.thread = thread

    @staticmethod
    def _serve(ref: weakref.ReferenceType[Delivery], lane: _Lane) -> None:
        """A lane's thread: gives its reporter each row in turn, until shutdown."""
        while True:
            delivery = ref()
            if delivery is None or not delivery._step(lane, wait=True):
                return
            del delivery

    def _step(self, lane: _Lane, *, wait: bool = False) -> bool:
        """Gives ``lane`` its next row (with ``wait``, once there is one it may be given);
        False when there is nothing to do (without ``wait``) or the Delivery stops."""
        while True:
            with self._lock:
                if self._stopping:
                    if lane.thread is threading.current_thread():
                        lane.thread = None
                    return False
                written = self.base + len(self.rows)
                now = time.monotonic()
                if lane.ready(written, now):
                    index = lane.inflight = lane.received
                    row, caller_keys = self.rows[index - self.base]
                    lane.busy = True
                    if wait:  # the lanes after this one may have the row too
                        self._ring_after(lane)
                    break
                if not wait:
                    return False
                pending = lane.received < written
                timeout = lane.retry_at - now if pending and now < lane.retry_at else 60.0
            lane.doorbell.acquire(timeout=max(timeout, 0.0))
        failure: BaseException | None = None
        try:
            _give(lane.reporter, row, caller_keys)
        except BaseException as exc:  # noqa: BLE001 - a reporter's failure, given to the caller
            failure = exc
        take_warnings = getattr(lane.reporter, "take_warnings", None)
        notes = take_warnings() if callable(take_warnings) else ()
        with self._lock:
            self._notes.extend(notes)
            lane.busy = False
            lane.inflight = -1
            lane.attempts += 1
            if failure is None:
                lane.received = max(lane.received, index + 1)
                lane.cause = None
                lane.failures = 0
                if lane.received >= self.base + len(self.rows):
                    lane.dropped = 0
                self._trim()
                if self.on_disk:
                    self._save_locked()  # the kept rows follow the delivery
            else:
                self._failed(lane, failure)
            self._lock.notify_all()
        return True

    def _failed(self, lane: _Lane, exc: BaseException) -> None:
        # Under the lock. The same failure again is raised again only after a success.
        lane.failures += 1
        lane.retry_at = time.monotonic() + _retry_delay(lane.failures)
        cause = (type(exc), str(exc))
        if cause != lane.cause:
            lane.cause = cause
            if len(self._errors) < 100:
                self._errors.append(exc)

    def _drop_oldest(self, lane: _Lane, first: int, count: int) -> None:
        # Under the lock: the lane skips ``count`` rows from row ``first`` on.
        first_step = self.rows[first - self.base][0].get("training_step")
        lane.received = first + count
        lane.dropped += count
        if lane.dropped == count:  # once per time it falls behind
            self._notes.append(
                f"{self._run_dir}: the reporter {lane.key} fell {self.max_rows:,} rows behind; "
                f"its oldest rows (from training_step {first_step}) are dropped for it and "
                "only in history.jsonl"
            )

    def _trim(self) -> None:
        # Under the lock: rows every lane has received leave the queue.
        done = min((lane.received for lane in self.lanes), default=self.base + len(self.rows))
        while self.base < done:
            self.rows.popleft()
            self.base += 1

    def _save_locked(self) -> None:
        if not self.rows:
            if self.on_disk:
                self._run.save_undelivered(None)
                self.on_disk = False
            return
        kept = {
            "rows": [[row, None if keys is None else list(keys)] for row, keys in self.rows],
            "reporters": [
                {"key": lane.key, "received": lane.received - self.base} for lane in self.lanes
            ],
        }
        self._run.save_undelivered(json.dumps(kept).encode())
        self.on_disk = True

    def _update_call_reporters(self) -> None:
        self.call_reporters = tuple(
            lane.reporter
            for lane in self.lanes
            if callable(getattr(lane.reporter, "record_call", None))
        )

    # -- exit ---------------------------------------------------------------------------

    def _add_exit_hook(self) -> None:
        # Registered again after each start, so that it runs before the hooks the backends
        # registered meanwhile (atexit runs the last registered first).
        self._remove_exit_hook()
        atexit.register(_deliver_at_exit, weakref.ref(self))
        self._exit_hook_at = os.getpid()

    def _remove_exit_hook(self) -> None:
        if self._exit_hook_at is not None:
            atexit.unregister(_deliver_at_exit)
            # unregister removes every registration of the function: put back the others'.
            for other in list(_deliveries):
                if other is not self and other._exit_hook_at is not None:
                    atexit.register(_deliver_at_exit, weakref.ref(other))
            self._exit_hook_at = None

    def _after_fork_in_child(self) -> None:
        # The parent delivers its own rows; the child starts with an empty queue.
        self._lock = threading.Condition()
        self.base += len(self.rows)
        self.rows = collections.deque()
        for lane in self.lanes:
            lane.received = self.base
            lane.busy = False
            lane.thread = None
        self._errors, self._notes = [], []
        self.on_disk = False


# Seconds the exit hook (and a collected Model) waits for the reporters before keeping the
# rest for the next process.
EXIT_TIMEOUT_S = 10.0

_deliveries: weakref.WeakSet[Delivery] = weakref.WeakSet()


def _deliver_at_exit(ref: weakref.ReferenceType[Delivery]) -> None:
    delivery = ref()
    if delivery is None or delivery._exit_hook_at != os.getpid():
        return
    try:
        left = delivery.shutdown(None, [lane.reporter for lane in delivery.lanes])
    except Exception:  # noqa: BLE001 - nothing useful can be done at interpreter exit
        return
    for name, count in left.items():
        warnings.warn(
            f"{delivery._run_dir}: {name} had not received {count} row(s) at exit; they are "
            "kept for the next start",
            RuntimeWarning,
            stacklevel=1,
        )


def _before(deadline: float | None) -> bool:
    return deadline is None or time.monotonic() < deadline


def _on_priced_call(run_id: int, **call: Any) -> None:
    """The core's handler of each priced call of a run whose reporters want them."""
    model = _budget._models.get(run_id)
    delivery = getattr(model, "_delivery", None)
    if delivery is not None:
        delivery.record_call(call)


_set_call_handler(_on_priced_call)


def _new_locks_in_child() -> None:
    for delivery in list(_deliveries):
        delivery._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_locks_in_child)

__all__ = ["Delivery", "Reporter", "reporter_key"]
