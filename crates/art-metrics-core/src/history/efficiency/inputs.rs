//! What a train log's efficiency figures are computed from: what the backend says
//! ([`efficiency_plan`]), the visible GPUs and torch's peak allocation ([`Hardware`]), and the
//! run's largest GPU memory use so far ([`HighWater`]).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::history::train_step::{Backend, applies_to};
use crate::pricing::gpu::GpuInfo;
use crate::pricing::gpu_flops::total_peak_flops;

const MIB_PER_GIB: f64 = 1024.0;
const BYTES_PER_GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// What a train log with efficiency figures takes from its backend
/// ([`efficiency_plan`]), before the visible GPUs are sampled.
#[derive(Debug, Clone, PartialEq)]
pub struct EfficiencyPlan {
    /// The backend's GPU rate, for the idle cost.
    pub usd_per_hour: Option<f64>,
    /// The backend's own GPU count (`None`: the visible GPUs are counted).
    pub gpu_count: Option<u64>,
    /// The model's parameter count: the caller's, else the backend's.
    pub n_params: Option<u64>,
    /// Whether the figures want the visible GPUs (names and memory: one nvidia-smi run).
    pub sample_gpus: bool,
}

/// The efficiency inputs of a log of `split`: `None` but for train logs. The backend is
/// asked only when it has automatic train-step metrics (`LocalBackend`): its GPU rate, its
/// GPU count, and the parameter count when the caller's `n_params` is `None`; only such a
/// backend's GPUs are sampled (a remote backend's are not this machine's).
pub fn efficiency_plan<B: Backend>(
    split: &str,
    backend: &mut B,
    n_params: Option<u64>,
) -> Result<Option<EfficiencyPlan>, B::Error> {
    if !applies_to(split) {
        return Ok(None);
    }
    if !backend.supports()? {
        return Ok(Some(EfficiencyPlan {
            usd_per_hour: None,
            gpu_count: None,
            n_params,
            sample_gpus: false,
        }));
    }
    let usd_per_hour = backend.usd_per_hour()?;
    let gpu_count = backend.gpu_count()?;
    let n_params = match n_params {
        Some(n) => Some(n),
        None => backend.n_params()?,
    };
    Ok(Some(EfficiencyPlan {
        usd_per_hour,
        gpu_count,
        n_params,
        sample_gpus: true,
    }))
}

/// The largest value seen so far (lock-free: non-negative floats order as their bits do).
#[derive(Debug, Default)]
pub struct HighWater(AtomicU64);

impl HighWater {
    /// Records `value` (non-negative) and returns the largest recorded so far.
    pub fn observe(&self, value: f64) -> f64 {
        let bits = value.max(0.0).to_bits();
        f64::from_bits(self.0.fetch_max(bits, Ordering::Relaxed).max(bits))
    }
}

/// The hardware inputs of one log's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hardware {
    /// The GPUs the per-GPU figures divide by.
    pub gpu_count: Option<u64>,
    /// Their summed dense BF16 peak FLOP/s.
    pub peak_flops: Option<f64>,
    pub n_params: Option<u64>,
    pub gpu_memory_used_gib: Option<f64>,
    pub max_gpu_memory_used_gib: Option<f64>,
    pub torch_max_memory_allocated_gib: Option<f64>,
}

impl EfficiencyPlan {
    /// The figures' inputs from the sampled visible GPUs (`gpus`: empty when none or not
    /// sampled) and torch's peak allocation in bytes; the GPUs' memory in use goes into
    /// `high_water`, the run's largest.
    pub fn hardware(
        &self,
        gpus: &[GpuInfo],
        torch_max_memory_allocated_bytes: Option<u64>,
        high_water: &HighWater,
    ) -> Hardware {
        let gpu_count = self
            .gpu_count
            .or_else(|| (!gpus.is_empty()).then_some(gpus.len() as u64));
        let peak_flops = total_peak_flops(gpus.iter().map(|g| g.name.as_str()), self.gpu_count);
        let gpu_memory_used_gib = gpus
            .iter()
            .filter_map(|g| g.memory_used_mib)
            .reduce(f64::max)
            .map(|mib| mib / MIB_PER_GIB);
        Hardware {
            gpu_count,
            peak_flops,
            n_params: self.n_params,
            gpu_memory_used_gib,
            max_gpu_memory_used_gib: gpu_memory_used_gib.map(|gib| high_water.observe(gib)),
            torch_max_memory_allocated_gib: torch_max_memory_allocated_bytes
                .map(|b| b as f64 / BYTES_PER_GIB),
        }
    }
}

/// Everything a train row's efficiency figures use besides the step and the totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EfficiencyInputs {
    /// The backend's rate for all its GPUs (`None`: no idle cost).
    pub usd_per_hour: Option<f64>,
    pub hardware: Hardware,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(index: u32, name: &str, memory_used_mib: Option<f64>) -> GpuInfo {
        GpuInfo {
            index,
            uuid: format!("GPU-{index}"),
            name: name.into(),
            memory_used_mib,
        }
    }

    fn plan(gpu_count: Option<u64>) -> EfficiencyPlan {
        EfficiencyPlan {
            usd_per_hour: None,
            gpu_count,
            n_params: Some(7),
            sample_gpus: true,
        }
    }

    #[test]
    fn the_hardware_of_a_sample() {
        let h100 = "NVIDIA H100 80GB HBM3";
        let gpus = [
            gpu(0, h100, Some(40960.0)),
            gpu(1, h100, Some(61440.0)),
            gpu(2, h100, None),
        ];
        let high = HighWater::default();
        let hw = plan(None).hardware(&gpus, Some(3 << 30), &high);
        assert_eq!(
            hw,
            Hardware {
                gpu_count: Some(3),
                peak_flops: Some(3.0 * 989.5e12),
                n_params: Some(7),
                gpu_memory_used_gib: Some(60.0),
                max_gpu_memory_used_gib: Some(60.0),
                torch_max_memory_allocated_gib: Some(3.0),
            }
        );
        // Later logs: the current use, and the largest so far.
        let hw = plan(None).hardware(&[gpu(0, h100, Some(20480.0))], None, &high);
        assert_eq!(hw.gpu_memory_used_gib, Some(20.0));
        assert_eq!(hw.max_gpu_memory_used_gib, Some(60.0));
        assert_eq!(hw.torch_max_memory_allocated_gib, None);
        assert_eq!(high.observe(0.0), 60.0);
    }

    #[test]
    fn a_given_gpu_count_wins_and_scales_the_mean_peak() {
        let gpus = [gpu(0, "NVIDIA A100-SXM4-80GB", None)];
        let hw = plan(Some(8)).hardware(&gpus, None, &HighWater::default());
        assert_eq!(hw.gpu_count, Some(8));
        assert_eq!(hw.peak_flops, Some(8.0 * 312e12));
        // Nothing visible: the count still divides the tokens; no name, no peak.
        let hw = plan(Some(2)).hardware(&[], None, &HighWater::default());
        assert_eq!((hw.gpu_count, hw.peak_flops), (Some(2), None));
        // An unknown GPU: counted, no peak.
        let hw = plan(None).hardware(
            &[gpu(0, "Tesla T4", Some(1.0))],
            None,
            &HighWater::default(),
        );
        assert_eq!((hw.gpu_count, hw.peak_flops), (Some(1), None));
        let hw = plan(None).hardware(&[], None, &HighWater::default());
        assert_eq!(hw.gpu_count, None);
    }

    /// A backend that records what it is asked.
    struct Recording {
        supports: bool,
        n_params: Option<u64>,
        asked: Vec<&'static str>,
    }

    impl Backend for Recording {
        type Error = ();
        fn supports(&mut self) -> Result<bool, ()> {
            self.asked.push("supports");
            Ok(self.supports)
        }
        fn usd_per_hour(&mut self) -> Result<Option<f64>, ()> {
            self.asked.push("rate");
            Ok(Some(3.0))
        }
        fn gpu_count(&mut self) -> Result<Option<u64>, ()> {
            self.asked.push("gpu_count");
            Ok(Some(2))
        }
        fn n_params(&mut self) -> Result<Option<u64>, ()> {
            self.asked.push("n_params");
            Ok(self.n_params)
        }
    }

    #[test]
    fn the_plan_asks_the_backend_only_what_it_needs() {
        let backend = |supports| Recording {
            supports,
            n_params: Some(9),
            asked: Vec::new(),
        };
        let mut b = backend(true);
        assert_eq!(efficiency_plan("val", &mut b, None), Ok(None));
        assert!(b.asked.is_empty(), "train logs only");
        let plan = efficiency_plan("train", &mut b, None).unwrap().unwrap();
        assert_eq!(
            plan,
            EfficiencyPlan {
                usd_per_hour: Some(3.0),
                gpu_count: Some(2),
                n_params: Some(9),
                sample_gpus: true,
            }
        );
        assert_eq!(b.asked, ["supports", "rate", "gpu_count", "n_params"]);
        // The caller's parameter count wins; the backend is not asked for one.
        let mut b = backend(true);
        let plan = efficiency_plan("train", &mut b, Some(5)).unwrap().unwrap();
        assert_eq!(plan.n_params, Some(5));
        assert!(!b.asked.contains(&"n_params"));
        // Without automatic train-step metrics: no rate, no GPUs sampled.
        let mut b = backend(false);
        let plan = efficiency_plan("train", &mut b, Some(5)).unwrap().unwrap();
        assert_eq!(
            plan,
            EfficiencyPlan {
                usd_per_hour: None,
                gpu_count: None,
                n_params: Some(5),
                sample_gpus: false,
            }
        );
        assert_eq!(b.asked, ["supports"]);
    }

    #[test]
    fn high_water_keeps_the_largest() {
        let high = HighWater::default();
        assert_eq!(high.observe(2.5), 2.5);
        assert_eq!(high.observe(1.0), 2.5);
        assert_eq!(high.observe(70.25), 70.25);
        assert_eq!(high.observe(-3.0), 70.25);
    }
}
