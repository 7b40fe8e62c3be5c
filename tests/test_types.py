"""The `Literal` types of `art_metrics._types` match what the core accepts."""

from typing import get_args

from art_metrics import SUPPORTED_ART_VERSIONS, reporting
from art_metrics._types import ArtVersion, ReportMetric


def test_art_version_lists_the_supported_versions():
    assert get_args(ArtVersion) == SUPPORTED_ART_VERSIONS


def test_report_metric_lists_the_reporters():
    assert (
        get_args(ReportMetric)
        == reporting.KNOWN
        == ("wandb", "trackio", "mlflow", "tensorboard", "otel")
    )
