"""The `Literal` types of `art_metrics._types` match what the core accepts."""

from typing import get_args

from art_metrics import SUPPORTED_ART_VERSIONS
from art_metrics._types import ArtVersion


def test_art_version_lists_the_supported_versions():
    assert get_args(ArtVersion) == SUPPORTED_ART_VERSIONS
