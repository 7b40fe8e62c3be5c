"""`TensorBoardReporter`: every row's numbers as TensorBoard scalars in the run directory.

``Model(report_metrics=["tensorboard"])`` writes event files to ``{run_dir}/tensorboard``
(``pip install 'art-metrics[tensorboard]'``: tensorboardX, which needs neither TensorFlow nor
PyTorch, and crc32c, which it uses for the records' checksums when installed). View them with ``tensorboard --logdir {run_dir}/tensorboard`` (or the project's
``models`` folder, one run per model). Each row is one event: every number but ``step`` and
``training_step``, at step ``training_step``, as float32 like every TensorBoard scalar (NaN
and infinities kept). A restarted process (or a log after ``close``) writes a new event file
in the same folder, which TensorBoard reads as the same run.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

from .reporting import metric_values, require, row_step

__all__ = ["TensorBoardReporter"]

# Event files are named by the second they were opened in (and the host): a suffix keeps a
# file opened in the same second (a restart, a close and a later log) from replacing one.
_writers = itertools.count()


class TensorBoardReporter:
    """Writes each row as one TensorBoard event to ``log_dir``.

    The event file is written in the calling thread (the reporter's own, see
    `art_metrics.delivery`): tensorboardX's ``EventsWriter`` without the queue and the two
    threads of its ``FileWriter``.
    """

    def __init__(self, *, log_dir: str) -> None:
        require("tensorboardX", "tensorboard", "tensorboardX")
        self.log_dir = log_dir
        self._writer: Any = None
        self._protos: Any = None

    def start(self) -> None:
        """Opens a new event file in ``log_dir`` (creating the folder)."""
        if self._writer is None:
            from tensorboardX.event_file_writer import EventsWriter
            from tensorboardX.proto.event_pb2 import Event
            from tensorboardX.proto.summary_pb2 import Summary

            self._protos = Event, Summary
            os.makedirs(self.log_dir, exist_ok=True)
            suffix = f".{os.getpid()}.{next(_writers)}"
            self._writer = EventsWriter(os.path.join(self.log_dir, "events"), suffix)

    def log(self, row: dict[str, float | int]) -> None:
        """One event with the row's numbers at step ``training_step``, on disk when this
        returns (tensorboardX's flush syncs the file)."""
        self.start()
        event, summary = self._protos
        values = [summary.Value(tag=k, simple_value=v) for k, v in metric_values(row)]
        if values:
            self._writer.write_event(
                event(wall_time=time.time(), step=row_step(row), summary=summary(value=values))
            )
            self._writer.flush()

    def finish(self) -> None:
        """Closes the event file (a later row opens a new one)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
