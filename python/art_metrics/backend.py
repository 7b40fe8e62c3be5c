"""`LocalBackend`: turns on automatic train-step metrics (`time/step_wall_s`, `costs/gpu`).

>>> import asyncio, tempfile
>>> from art_metrics import Model, LocalBackend
>>> model = Model(name="m", project="p", base_path=tempfile.mkdtemp())
>>> asyncio.run(model.register(LocalBackend(gpu_cost_per_hour_usd=2.25, gpu_count=1)))
"""

from __future__ import annotations

from typing import Any

from ._core import backend_gpu_cost_per_hour, detect_gpus


class LocalBackend:
    """Prices train steps by wall time: seconds x USD per GPU-hour x GPUs / 3600.

    ``gpu_cost_per_hour_usd`` is per GPU; without it each visible GPU is priced from the
    table in docs/pages/spend.md (H200 $3.00 as openpipe-art; H100, A100, B200, L40S, L4, A10G), a
    mixed set as the sum. The GPU count is ``gpu_count`` or the number of GPUs nvidia-smi
    shows after ``CUDA_VISIBLE_DEVICES``. An unknown GPU, or a price with no GPU visible and
    no ``gpu_count``, means no ``costs/gpu`` and one ``UserWarning`` naming what to pass.
    """

    def __init__(
        self,
        *,
        gpu_cost_per_hour_usd: float | None = None,
        gpu_count: int | None = None,
        in_process: bool = False,
        path: str | None = None,
    ) -> None:
        self._gpu_cost_per_hour_usd = gpu_cost_per_hour_usd
        self._gpu_count = gpu_count
        self._detected: tuple[list[str], list[float | None]] | None = None
        self.in_process = in_process
        self.path = path

    @property
    def gpu_count(self) -> int | None:
        """The GPU count given to the constructor (None: the visible GPUs are counted)."""
        return self._gpu_count

    async def register(self, model: Any) -> None:
        """Called by `Model.register`; a local backend needs no setup."""

    def supports_automatic_train_step_metrics(self) -> bool:
        return True

    def _detect(self) -> tuple[list[str], list[float | None]]:
        # nvidia-smi takes a while; the visible GPUs do not change during a process.
        if self._detected is None:
            self._detected = detect_gpus()
        return self._detected

    def automatic_gpu_cost_per_hour_usd(self, model: Any = None) -> float | None:
        """USD per hour for all GPUs of this backend, or None when it is not known."""
        return backend_gpu_cost_per_hour(self._gpu_cost_per_hour_usd, self._gpu_count, self._detect)
