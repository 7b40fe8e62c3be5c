"""art_metrics: ART's metrics and cost tracking, with a Rust core.

>>> from art_metrics import Model, MetricsBuilder, Trajectory, TrajectoryGroup, LocalBackend
"""

from ._core import __version__
from .backend import LocalBackend
from .builder import MetricsBuilder
from .model import Model, Reporter
from .trajectories import Trajectory, TrajectoryGroup

__all__ = [
    "LocalBackend",
    "MetricsBuilder",
    "Model",
    "Reporter",
    "Trajectory",
    "TrajectoryGroup",
    "__version__",
]
