"""art_metrics: ART's metrics and cost tracking, with a Rust core.

>>> from art_metrics import Model, MetricsBuilder, Trajectory, TrajectoryGroup, LocalBackend
>>> from art_metrics import track_api_cost
"""

from . import pricing
from ._core import __version__
from .backend import LocalBackend
from .builder import MetricsBuilder
from .costs import CostTrackingError, track_api_cost
from .model import Model, Reporter
from .trajectories import Trajectory, TrajectoryGroup

__all__ = [
    "CostTrackingError",
    "LocalBackend",
    "MetricsBuilder",
    "Model",
    "Reporter",
    "Trajectory",
    "TrajectoryGroup",
    "__version__",
    "pricing",
    "track_api_cost",
]
