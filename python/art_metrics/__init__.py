"""art_metrics: ART's metrics and cost tracking, with a Rust core.

>>> from art_metrics import MetricsBuilder, track_api_cost
"""

from . import pricing
from ._core import __version__
from .builder import MetricsBuilder
from .costs import CostTrackingError, track_api_cost

__all__ = ["CostTrackingError", "MetricsBuilder", "__version__", "pricing", "track_api_cost"]
