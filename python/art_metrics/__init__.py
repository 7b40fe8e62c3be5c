"""art_metrics: ART's metrics and cost tracking, with a Rust core.

>>> from art_metrics import MetricsBuilder
"""

from ._core import __version__
from .builder import MetricsBuilder

__all__ = ["MetricsBuilder", "__version__"]
