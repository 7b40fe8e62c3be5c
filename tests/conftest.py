import os

# openpipe-art imports litellm, which otherwise downloads prices at import time (no network here).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
