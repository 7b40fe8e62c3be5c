"""The closed sets of strings the API accepts, as `typing.Literal` types for annotations.

The core checks the values at run time and refuses others with a ValueError; these types let
a type checker refuse them before. `ArtVersion` must list the core's `SUPPORTED_ART_VERSIONS`
(tests/test_types.py compares them).
"""

from typing import Literal

__all__ = ["AlertLevel", "ArtVersion", "OnExceed", "OnUnpriced", "ReportMetric"]

# The openpipe-art versions whose rules a run can follow.
ArtVersion = Literal["0.5.18", "0.5.23"]
# What the call whose cost takes a run past its budget does: warn, or raise BudgetExceeded.
OnExceed = Literal["warn", "raise"]
# What a tracked call whose model has no price does: raise, or count it and warn once.
OnUnpriced = Literal["raise", "warn"]
# The reporters `Model(report_metrics=[...])` builds (`reporting.reporters_for`).
ReportMetric = Literal["wandb", "trackio", "mlflow", "tensorboard", "otel"]
# The level of a reporter's alert (W&B's `AlertLevel` names; the spend guard sends them).
AlertLevel = Literal["INFO", "WARN", "ERROR"]
