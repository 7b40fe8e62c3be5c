"""GPU detection (with a fake nvidia-smi on PATH) and the automatic train-step metrics."""

import json
import warnings

import pytest
from art_metrics import LocalBackend, Model
from art_metrics._core import detect_gpus

H200 = "NVIDIA H200"


def test_two_h200s(fake_smi):
    fake_smi(H200, H200)
    assert detect_gpus() == ([H200, H200], [3.0, 3.0])
    assert LocalBackend().automatic_gpu_cost_per_hour_usd() == 6.0


def test_a_mixed_set_is_priced_per_gpu(fake_smi):
    fake_smi(H200, "NVIDIA A100-SXM4-80GB")
    assert detect_gpus()[1] == [3.0, 2.4984]
    assert LocalBackend().automatic_gpu_cost_per_hour_usd() == 3.0 + 2.4984


def test_an_unknown_gpu_gives_no_price_and_one_warning_naming_it(fake_smi):
    fake_smi(H200, "NVIDIA Test-Unknown 9000")
    assert detect_gpus()[1] == [3.0, None]
    backend = LocalBackend()
    with pytest.warns(UserWarning, match=r"'NVIDIA Test-Unknown 9000'.*gpu_cost_per_hour_usd="):
        assert backend.automatic_gpu_cost_per_hour_usd() is None
    assert backend.automatic_gpu_cost_per_hour_usd() is None  # once: no second warning


def test_cuda_visible_devices_subset(fake_smi, monkeypatch):
    fake_smi(H200, "NVIDIA A100-SXM4-80GB", H200)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0")
    assert detect_gpus() == ([H200, H200], [3.0, 3.0])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-0002")
    assert LocalBackend().automatic_gpu_cost_per_hour_usd() == 3.0
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert LocalBackend().automatic_gpu_cost_per_hour_usd() == 2.4984
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert detect_gpus() == ([], [])


def test_missing_nvidia_smi_gives_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert detect_gpus() == ([], [])
    assert LocalBackend().automatic_gpu_cost_per_hour_usd() is None
    # An explicit price still needs a GPU count: detected (none here) or given. Without
    # either, one warning says so (other tests may have given it already in this process).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert LocalBackend(gpu_cost_per_hour_usd=2.25).automatic_gpu_cost_per_hour_usd() is None
        assert LocalBackend(gpu_cost_per_hour_usd=2.25).automatic_gpu_cost_per_hour_usd() is None
    assert len(caught) <= 1
    assert all("gpu_count=" in str(w.message) for w in caught)
    assert (
        LocalBackend(gpu_cost_per_hour_usd=2.25, gpu_count=2).automatic_gpu_cost_per_hour_usd()
        == 4.5
    )


def test_explicit_price_uses_the_detected_count(fake_smi):
    fake_smi("NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB")
    assert LocalBackend(gpu_cost_per_hour_usd=1.5).automatic_gpu_cost_per_hour_usd() == 3.0


def rows(model):
    with open(f"{model.run_dir}/history.jsonl") as f:
        return [json.loads(line) for line in f]


async def test_train_logs_get_wall_time_and_gpu_cost(fake_smi, tmp_path):
    fake_smi(H200, H200)
    model = Model(name="m", project="p", base_path=str(tmp_path))
    await model.register(LocalBackend())
    await model.log(None, split="train", step=1, metrics={"loss/x": 1.0})
    row = rows(model)[-1]
    assert row["costs/gpu"] == pytest.approx(row["time/step_wall_s"] * 6.0 / 3600, rel=1e-12)
    assert row["costs/cum/gpu"] == row["costs/gpu"]
    assert row["time/cum/wall_s"] == row["time/step_wall_s"]
    # The same step again, and non-train splits, get nothing.
    await model.log(None, split="train", step=1, metrics={"loss/x": 1.0})
    await model.log(None, split="val", step=2, metrics={"loss/x": 1.0})
    assert not any("costs/gpu" in r for r in rows(model)[1:])
    # A given step_wall_s is kept; the GPU cost still uses the measured interval.
    await model.log(None, split="train", step=2, metrics={"time/step_wall_s": 100.0})
    row = rows(model)[-1]
    assert row["time/step_wall_s"] == 100.0
    assert 0 <= row["costs/gpu"] < 100.0 * 6.0 / 3600


async def test_without_a_backend_there_are_no_automatic_metrics(fake_smi, tmp_path):
    fake_smi(H200)
    model = Model(name="m", project="p", base_path=str(tmp_path))
    await model.log(None, split="train", step=1, metrics={"loss/x": 1.0})
    assert "costs/gpu" not in rows(model)[0] and "time/step_wall_s" not in rows(model)[0]
