"""art_metrics: ART's metrics and cost tracking, with a Rust core.

>>> from art_metrics import Model, MetricsBuilder, Trajectory, TrajectoryGroup, LocalBackend
>>> from art_metrics import track_api_cost, install, uninstall
"""

from . import pricing
from ._core import SUPPORTED_ART_VERSIONS, PendingMetrics, __version__
from .art_patch import install, uninstall
from .backend import LocalBackend
from .budget import BudgetExceeded, BudgetWarning
from .builder import MetricsBuilder
from .costs import CostTrackingError, CostTrackingWarning, track_api_cost
from .delivery import Reporter
from .mlflow_reporter import MlflowReporter
from .model import Model
from .otel_reporter import OtelReporter
from .reporting import TrackioReporter, WandbReporter
from .tensorboard_reporter import TensorBoardReporter
from .trajectories import Trajectory, TrajectoryGroup

__all__ = [
    "SUPPORTED_ART_VERSIONS",
    "BudgetExceeded",
    "BudgetWarning",
    "CostTrackingError",
    "CostTrackingWarning",
    "LocalBackend",
    "MetricsBuilder",
    "MlflowReporter",
    "PendingMetrics",
    "Model",
    "OtelReporter",
    "Reporter",
    "TensorBoardReporter",
    "TrackioReporter",
    "Trajectory",
    "TrajectoryGroup",
    "WandbReporter",
    "__version__",
    "install",
    "pricing",
    "track_api_cost",
    "uninstall",
]
