import os
import tempfile

# openpipe-art imports litellm, which otherwise downloads prices at import time (no network here).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# The price catalog cache of this test session: never the developer's ~/.cache.
os.environ["ART_METRICS_CACHE_DIR"] = tempfile.mkdtemp(prefix="art-metrics-test-cache-")
# A developer's W&B key would make every Model report to W&B (report_metrics=None means
# "W&B when WANDB_API_KEY is set", as in openpipe-art).
os.environ.pop("WANDB_API_KEY", None)
