import os
from collections.abc import Iterable, Mapping
from typing import Any, Callable, ClassVar, final

from typing_extensions import Self, disjoint_base

__all__ = [
    "__version__",
    "BuilderCore",
    "CostTracker",
    "RunCore",
    "PreparedLog",
    "PendingMetrics",
    "detect_gpus",
    "backend_gpu_cost_per_hour",
    "gpu_cost_usd",
    "SUPPORTED_ART_VERSIONS",
    "_wandb_row_keys",
    "_wandb_setup",
    "_split_notice",
    "TrackedFunction",
    "CatalogCacheWarning",
    "CatalogRefreshWarning",
    "CostTrackingWarning",
    "DEFAULT_CATALOG_URL",
    "_lookup",
    "_catalog_entries",
    "_catalog_info",
    "_refresh_catalog",
    "DownloadProgress",
    "_reload_catalog",
    "_catalog_cache_path",
    "_after_fork_in_child",
    "_check_path_component",
    "_noop",
    "_fail_next_appends",
]
__version__: str

# Test hooks: only in builds with the cargo feature `test-hooks` (make build-dev, make bench).
def _noop() -> None: ...
def _fail_next_appends(count: int, errno: int) -> None: ...

@disjoint_base
class BuilderCore:
    def __new__(
        cls,
        cost_context: str,
        *,
        art_version: str | None = None,
        _share_with: BuilderCore | None = None,
        _buffer_scope: str | None = None,
    ) -> Self: ...
    @property
    def cost_context(self) -> str: ...
    @property
    def _buffer_scope(self) -> str: ...
    @property
    def art_version(self) -> str: ...
    def add_metric(self, key: str, value: float) -> None: ...
    def add_cost(self, path: str, usd: float) -> None: ...
    # The parameter names are the run's art_version's, bound by the core, each defaulting to
    # None: 0.5.18 add_data(step_num_scenarios, step_actor_tokens, scenario_ids),
    # add_user_timing(step_wall_s, step_actor_s, step_eval_s),
    # add_idle_times(step_trainer_idle_s, step_actor_idle_s); 0.5.23 says step_rollout_tokens,
    # step_rollout_s and step_rollout_idle_s instead.
    def add_data(
        self, *args: float | Iterable[Any] | None, **kwargs: float | Iterable[Any] | None
    ) -> None: ...
    def add_user_timing(self, *args: float | None, **kwargs: float | None) -> None: ...
    def add_idle_times(self, *args: float | None, **kwargs: float | None) -> None: ...
    def _flush(self) -> dict[str, float]: ...
    def _drain_pending(self) -> dict[str, float]: ...
    def export_pending(self) -> PendingMetrics: ...
    def merge_pending(self, pending: PendingMetrics) -> bool: ...
    def for_cost_context(self, cost_context: str, *, buffer_scope: str | None = None) -> Any: ...
    def register_model_pricing(
        self,
        model_name: str,
        *,
        prompt_per_million: float,
        completion_per_million: float,
        cached_prompt_per_million: float | None = None,
        cache_creation_per_million: float | None = None,
        cache_read_per_million: float | None = None,
    ) -> None: ...
    def register_cost_extractor(
        self, provider: str, extractor: Callable[[Any], float | None]
    ) -> None: ...
    def add_response_cost(
        self,
        source: str,
        response: Any,
        *,
        provider: str,
        model_name: str,
        prompt_price_per_million: float | None = None,
        completion_price_per_million: float | None = None,
        cached_prompt_price_per_million: float | None = None,
        cache_creation_price_per_million: float | None = None,
        cache_read_price_per_million: float | None = None,
        batch: bool = False,
    ) -> float: ...
    def _cost_extractor(self, provider: str) -> Callable[[Any], float | None] | None: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...
    def _pending_len(self) -> int: ...
    def _shares_run_with(self, other: BuilderCore) -> bool: ...
    def set_budget(
        self,
        usd: float | None,
        *,
        on_exceed: str = "warn",
        warn_at: list[float] | None = None,
        _warned_at: list[float] | None = None,
        _exceeded: bool = False,
    ) -> None: ...
    def _budget_state(self) -> dict[str, Any] | None: ...
    def spend_usd(self) -> float: ...
    def _check_budget(self) -> None: ...
    def _run_id(self) -> int: ...

@final
class PendingMetrics:
    FORMAT_VERSION: ClassVar[int]
    @staticmethod
    def from_bytes(data: bytes) -> PendingMetrics: ...
    def to_bytes(self) -> bytes: ...
    def __reduce__(self) -> tuple[Any, tuple[bytes]]: ...
    @property
    def id(self) -> tuple[str, int]: ...
    @property
    def cost_context(self) -> str: ...
    @property
    def buffer_scope(self) -> str: ...
    @property
    def values(self) -> dict[str, float]: ...
    @property
    def scenario_ids(self) -> list[str]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def detect_gpus() -> tuple[list[str], list[float | None]]: ...
def backend_gpu_cost_per_hour(
    usd_per_gpu_hour: float | None,
    gpu_count: int | None,
    detect: Callable[[], tuple[list[str], list[float | None]]],
) -> float | None: ...
def _split_notice(split: str) -> str | None: ...
def gpu_cost_usd(wall_s: float, usd_per_hour: float) -> float: ...

SUPPORTED_ART_VERSIONS: tuple[str, ...]

def _wandb_row_keys(
    art_version: str, keys: list[str], caller_keys: list[str]
) -> tuple[list[str], list[str]]: ...
def _wandb_setup(art_version: str) -> tuple[list[str], list[tuple[str, str]]]: ...

@final
class RunCore:
    def __new__(
        cls,
        path: str | os.PathLike[str],
        *,
        compact_min_bytes: int | None = None,
        started_s_ago: float | None = None,
    ) -> Self: ...
    def load_into(self, builder: BuilderCore) -> None: ...
    def read_state(self) -> str | None: ...
    def overwrite_state(self, json: str, snapshot_next: bool) -> None: ...
    def merge_state(self, json: str, snapshot_next: bool) -> str: ...
    def compact(self) -> None: ...
    def close(self) -> None: ...
    def is_writer(self) -> bool: ...
    def take_warnings(self) -> list[str]: ...
    def log(
        self,
        builder: BuilderCore,
        groups: list[Any] | None,
        split: str,
        step: int,
        metrics: Mapping[str, float] | None,
        wall_clock_sec: float,
        recorded_at: str,
        backend: Any = None,
        model: Any = None,
        efficiency: bool = False,
    ) -> tuple[dict[str, float | int], list[str]] | None: ...
    def prepare_log(
        self,
        builder: BuilderCore,
        groups: list[Any] | None,
        split: str,
        step: int,
        metrics: Mapping[str, float] | None,
        wall_clock_sec: float,
        recorded_at: str,
        backend: Any = None,
        model: Any = None,
        efficiency: bool = False,
    ) -> PreparedLog: ...
    def commit_log(
        self, prepared: PreparedLog
    ) -> tuple[dict[str, float | int], list[str]] | None: ...

@final
class PreparedLog: ...

def _after_fork_in_child() -> int: ...
def _check_path_component(value: str, what: str) -> None: ...

@final
class CostTracker:
    def __new__(
        cls,
        *,
        source: str,
        provider: str,
        model_name: str,
        response_getter: Callable[[Any], Any] | None = None,
        prompt_price_per_million: float | None = None,
        completion_price_per_million: float | None = None,
        cached_prompt_price_per_million: float | None = None,
        cache_creation_price_per_million: float | None = None,
        cache_read_price_per_million: float | None = None,
        batch: bool = False,
        on_unpriced: str | None = None,
    ) -> Self: ...
    @property
    def source(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def model_name(self) -> str: ...
    def record(self, builder: BuilderCore, result: Any) -> None: ...
    def warn_no_builder(self) -> None: ...

@final
class TrackedFunction:
    def __new__(
        cls,
        func: Callable[..., Any],
        tracker: CostTracker,
        active: Any,
        on_error: Callable[[BaseException, Any, Callable[..., Any]], BaseException],
    ) -> Self: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def _record_awaited(self, result: Any) -> Any: ...
    def __get__(self, obj: Any, objtype: Any = None, /) -> Any: ...
    @property
    def _tracker(self) -> CostTracker: ...

class CatalogCacheWarning(RuntimeWarning): ...
class CatalogRefreshWarning(RuntimeWarning): ...
class CostTrackingWarning(RuntimeWarning): ...

DEFAULT_CATALOG_URL: str

def _lookup(provider: str, model_name: str) -> dict[str, Any]: ...
def _catalog_entries() -> list[dict[str, Any]]: ...
def _catalog_info() -> dict[str, Any]: ...

@final
class DownloadProgress:
    def __new__(cls) -> Self: ...
    @property
    def received(self) -> int: ...
    @property
    def total(self) -> int | None: ...

def _refresh_catalog(
    source: str,
    timeout: float,
    allow_insecure: bool,
    progress: DownloadProgress | None = None,
) -> dict[str, Any]: ...
def _reload_catalog() -> dict[str, Any]: ...
def _catalog_cache_path() -> str | None: ...
