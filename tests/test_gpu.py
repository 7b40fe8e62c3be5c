"""GPU detection (with a fake nvidia-smi on PATH) and the automatic train-step metrics."""

import json
import sys
import types
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


# -- efficiency figures (Model(efficiency_metrics=True)) -----------------------------------

H100 = "NVIDIA H100 80GB HBM3"  # 989.5 TFLOPS dense BF16 (1,979 with sparsity)
STEP_TOKENS = {
    "data/step_trainer_tokens": 1e6,
    "time/step_trainer_s": 50.0,
    "data/step_actor_tokens": 4e5,
    "time/step_actor_s": 20.0,
}


def memory_queries(calls):
    if not calls.exists():
        return 0
    return sum("memory.used" in line for line in calls.read_text().splitlines())


async def test_efficiency_figures_from_nvidia_smi(fake_smi, tmp_path):
    calls = fake_smi(H100, H100, memory_used_mib=[40960, 61440])
    model = Model(
        name="m", project="p", base_path=str(tmp_path), efficiency_metrics=True, n_params=8 * 10**9
    )
    await model.register(LocalBackend(gpu_cost_per_hour_usd=2.0))
    await model.log(None, split="train", step=1, metrics=STEP_TOKENS)
    row = rows(model)[-1]
    # 1e6 tokens / 50 s / 2 GPUs; 4e5 / 20 s / 2.
    assert row["efficiency/trainer_tok_per_s_per_gpu"] == 10_000.0
    assert row["efficiency/rollout_tok_per_s_per_gpu"] == 10_000.0
    # 6 x 8e9 x 1e6 / (50 s x 2 x 989.5e12) = 48 / 98.95.
    assert row["efficiency/trainer_mfu"] == pytest.approx(0.48509348155634157, rel=1e-12)
    # 2 x 8e9 x 4e5 / (20 s x 2 x 989.5e12) = 6.4 / 39.58.
    assert row["efficiency/rollout_mfu"] == pytest.approx(0.16169782718544719, rel=1e-12)
    # The larger memory.used, 61440 MiB.
    assert row["efficiency/gpu_memory_used_gib"] == 60.0
    assert row["efficiency/max_gpu_memory_used_gib"] == 60.0
    assert "efficiency/torch_max_memory_allocated_gib" not in row  # torch is not imported
    assert memory_queries(calls) == 1

    # Less in use at the next log: the current figure follows it, the largest stays.
    fake_smi(H100, H100, memory_used_mib=[20480, None])
    await model.log(None, split="train", step=2, metrics={"loss/x": 1.0})
    row = rows(model)[-1]
    assert row["efficiency/gpu_memory_used_gib"] == 20.0
    assert row["efficiency/max_gpu_memory_used_gib"] == 60.0
    assert not any("tok_per_s" in k or "mfu" in k for k in row)  # no tokens this step
    # One nvidia-smi run per train log, none for other splits.
    await model.log(None, split="val", step=2, metrics={"loss/x": 1.0})
    assert memory_queries(calls) == 2
    assert not any(k.startswith("efficiency/") for k in rows(model)[-1])


async def test_no_efficiency_figures_or_nvidia_smi_runs_without_opt_in(fake_smi, tmp_path):
    calls = fake_smi(H100, memory_used_mib=[1024])
    model = Model(name="m", project="p", base_path=str(tmp_path), n_params=10**9)
    await model.register(LocalBackend(gpu_cost_per_hour_usd=2.0))
    await model.log(None, split="train", step=1, metrics=STEP_TOKENS)
    assert "costs/gpu" in rows(model)[-1]
    assert not any(k.startswith("efficiency/") for k in rows(model)[-1])
    assert memory_queries(calls) == 0


async def test_the_backends_gpu_count_and_parameter_count(fake_smi, tmp_path):
    fake_smi("NVIDIA A100-SXM4-80GB")  # 312 TFLOPS dense BF16

    class Backend(LocalBackend):
        def n_params(self, model):
            return 10**9

    model = Model(name="m", project="p", base_path=str(tmp_path), efficiency_metrics=True)
    await model.register(Backend(gpu_count=4))
    await model.log(None, split="train", step=1, metrics=STEP_TOKENS)
    row = rows(model)[-1]
    # The given count wins over the one visible GPU: 1e6 / 50 / 4.
    assert row["efficiency/trainer_tok_per_s_per_gpu"] == 5_000.0
    # 6 x 1e9 x 1e6 / (50 s x 4 x 312e12) = 6 / 62.4.
    assert row["efficiency/trainer_mfu"] == pytest.approx(0.09615384615384616, rel=1e-12)
    assert "efficiency/gpu_memory_used_gib" not in row  # the GPU said [N/A]
    # The model's own count wins over the backend's.
    model = Model(
        name="m2", project="p", base_path=str(tmp_path), efficiency_metrics=True, n_params=2 * 10**9
    )
    await model.register(Backend(gpu_count=4))
    await model.log(None, split="train", step=1, metrics=STEP_TOKENS)
    assert rows(model)[-1]["efficiency/trainer_mfu"] == pytest.approx(2 * 0.09615384615384616)


async def test_a_0523_run_reads_its_own_token_and_time_keys(fake_smi, tmp_path):
    fake_smi(H100)
    model = Model(
        name="m",
        project="p",
        base_path=str(tmp_path),
        art_version="0.5.23",
        efficiency_metrics=True,
        n_params=10**9,
    )
    await model.register(LocalBackend(gpu_cost_per_hour_usd=2.0))
    metrics = {
        "data/step_trainable_assistant_tokens": 2e6,
        "time/step_backend_train_s": 40.0,
        "data/step_rollout_tokens": 3e5,
        "time/step_rollout_s": 30.0,
    }
    await model.log(None, split="train", step=1, metrics=metrics)
    row = rows(model)[-1]
    assert row["efficiency/trainer_tok_per_s_per_gpu"] == 50_000.0
    assert row["efficiency/rollout_tok_per_s_per_gpu"] == 10_000.0
    # 6 x 1e9 x 2e6 / (40 s x 989.5e12); 2 x 1e9 x 3e5 / (30 s x 989.5e12).
    assert row["efficiency/trainer_mfu"] == pytest.approx(0.30318342597271347, rel=1e-12)
    assert row["efficiency/rollout_mfu"] == pytest.approx(0.020212228398180898, rel=1e-12)


async def test_an_unknown_gpu_gives_no_mfu(fake_smi, tmp_path):
    fake_smi("Tesla T4", memory_used_mib=[512])
    model = Model(
        name="m", project="p", base_path=str(tmp_path), efficiency_metrics=True, n_params=10**9
    )
    await model.register(LocalBackend(gpu_cost_per_hour_usd=0.5))
    await model.log(None, split="train", step=1, metrics=STEP_TOKENS)
    row = rows(model)[-1]
    assert row["efficiency/trainer_tok_per_s_per_gpu"] == 20_000.0
    assert row["efficiency/gpu_memory_used_gib"] == 0.5
    assert not any("mfu" in k for k in row)


class FakeCuda:
    def __init__(self, initialized, peaks):
        self._initialized = initialized
        self._peaks = peaks

    def is_initialized(self):
        return self._initialized

    def device_count(self):
        return len(self._peaks)

    def max_memory_allocated(self, device):
        return self._peaks[device]


async def test_torch_peak_memory_when_torch_is_imported_and_cuda_initialised(
    fake_smi, tmp_path, monkeypatch
):
    fake_smi(H100)
    model = Model(name="m", project="p", base_path=str(tmp_path), efficiency_metrics=True)
    await model.register(LocalBackend(gpu_cost_per_hour_usd=2.0))
    torch = types.SimpleNamespace(cuda=FakeCuda(True, [2 * 2**30, 3 * 2**30]))
    monkeypatch.setitem(sys.modules, "torch", torch)
    await model.log(None, split="train", step=1, metrics={"loss/x": 1.0})
    assert rows(model)[-1]["efficiency/torch_max_memory_allocated_gib"] == 3.0
    # CUDA not initialised in this process: nothing read (and nothing initialised).
    torch.cuda = FakeCuda(False, [2**30])
    await model.log(None, split="train", step=2, metrics={"loss/x": 1.0})
    assert "efficiency/torch_max_memory_allocated_gib" not in rows(model)[-1]


@pytest.mark.parametrize(
    "n_params, error",
    [(0, ValueError), (-5, ValueError), (7e9, TypeError), (True, TypeError), ("7B", TypeError)],
)
def test_n_params_is_a_positive_int(tmp_path, n_params, error):
    # Refused before anything else starts (here, before an unknown reporter is refused).
    with pytest.raises(error, match="n_params must be"):
        Model(
            name="m",
            project="p",
            base_path=str(tmp_path),
            n_params=n_params,
            report_metrics=["unknown"],
        )
