//! GPU prices for automatic `costs/gpu`: which GPUs this process can see, their price, the
//! hourly rate of a backend's GPUs and the cost formula.
//!
//! We ask `nvidia-smi` (no torch needed) and apply `CUDA_VISIBLE_DEVICES` as CUDA does. A
//! price is known only when every visible GPU is a model in [`GPU_PRICES`]: an unknown or
//! mixed set gives no price rather than a guess.

use std::process::Command;

/// USD per GPU-hour, by a name fragment matched against the upper-cased device name.
pub const GPU_PRICES: [(&str, f64); 1] = [("H200", 3.0)];

/// One GPU as `nvidia-smi` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuInfo {
    pub index: u32,
    pub uuid: String,
    pub name: String,
}

/// The GPUs this process can see and the price per GPU-hour, when every one is known.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuPricing {
    pub visible: Vec<GpuInfo>,
    pub usd_per_gpu_hour: Option<f64>,
}

/// Parses `nvidia-smi --query-gpu=index,uuid,name --format=csv,noheader` output.
pub fn parse_nvidia_smi(output: &str) -> Vec<GpuInfo> {
    output
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ',').map(str::trim);
            let index = parts.next()?.parse().ok()?;
            let uuid = parts.next()?.to_owned();
            let name = parts.next()?.to_owned();
            (!name.is_empty()).then_some(GpuInfo { index, uuid, name })
        })
        .collect()
}

/// The GPUs left visible by `CUDA_VISIBLE_DEVICES` (`None`: the variable is unset).
///
/// As CUDA: a comma-separated list of indices or (prefixes of) GPU UUIDs, read up to the
/// first entry that matches no device; an empty value or `-1` hides every GPU.
pub fn visible_gpus(all: &[GpuInfo], cuda_visible_devices: Option<&str>) -> Vec<GpuInfo> {
    let Some(spec) = cuda_visible_devices else {
        return all.to_vec();
    };
    let mut out: Vec<GpuInfo> = Vec::new();
    for token in spec.split(',').map(str::trim) {
        let found = if let Ok(i) = token.parse::<u32>() {
            all.iter().find(|g| g.index == i)
        } else if token.starts_with("GPU-") || token.starts_with("MIG-") {
            let mut matches = all.iter().filter(|g| g.uuid.starts_with(token));
            match (matches.next(), matches.next()) {
                (Some(g), None) => Some(g),
                _ => None,
            }
        } else {
            None
        };
        match found {
            Some(g) if !out.contains(g) => out.push(g.clone()),
            _ => break,
        }
    }
    out
}

/// The price per GPU-hour of a set of GPUs: known only if all share one known price.
pub fn price_per_gpu_hour(gpus: &[GpuInfo]) -> Option<f64> {
    let mut price = None;
    for gpu in gpus {
        let name = gpu.name.to_uppercase();
        let p = GPU_PRICES
            .iter()
            .find(|(fragment, _)| name.contains(fragment))
            .map(|(_, p)| *p)?;
        match price {
            None => price = Some(p),
            Some(q) if q == p => {}
            Some(_) => return None,
        }
    }
    price
}

/// USD for `wall_s` seconds of GPU time at `usd_per_hour` (the rate of all the GPUs
/// together): wall × rate / 3600. The one formula for `costs/gpu`.
pub fn gpu_cost_usd(wall_s: f64, usd_per_hour: f64) -> f64 {
    wall_s * usd_per_hour / 3600.0
}

/// USD per hour for all the GPUs of a backend: the per-GPU price times the GPU count.
///
/// Each is the given value, or detected when not given (`detect` runs only then, and
/// returns the number of visible GPUs and their common price). No known price, or no GPU,
/// means no rate: `costs/gpu` is then left out rather than guessed.
pub fn backend_usd_per_hour(
    usd_per_gpu_hour: Option<f64>,
    gpu_count: Option<u64>,
    detect: impl FnOnce() -> (u64, Option<f64>),
) -> Option<f64> {
    let (per_gpu, count) = match (usd_per_gpu_hour, gpu_count) {
        (Some(p), Some(c)) => (Some(p), c),
        _ => {
            let (detected_count, detected_price) = detect();
            (
                usd_per_gpu_hour.or(detected_price),
                gpu_count.unwrap_or(detected_count),
            )
        }
    };
    match per_gpu {
        Some(p) if count > 0 => Some(p * count as f64),
        _ => None,
    }
}

/// Runs `nvidia-smi` and applies `CUDA_VISIBLE_DEVICES`. No nvidia-smi, or one that fails,
/// means no visible GPU.
pub fn detect() -> GpuPricing {
    let output = Command::new("nvidia-smi")
        .args(["--query-gpu=index,uuid,name", "--format=csv,noheader"])
        .output();
    let all = match output {
        Ok(o) if o.status.success() => parse_nvidia_smi(&String::from_utf8_lossy(&o.stdout)),
        _ => Vec::new(),
    };
    let env = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    let visible = visible_gpus(&all, env.as_deref());
    GpuPricing {
        usd_per_gpu_hour: price_per_gpu_hour(&visible),
        visible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMI: &str = "0, GPU-aaaa-1111, NVIDIA H200\n1, GPU-bbbb-2222, NVIDIA H200\n\
                       2, GPU-cccc-3333, NVIDIA A100-SXM4-80GB\n";

    #[test]
    fn parses_and_prices() {
        let all = parse_nvidia_smi(SMI);
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].name, "NVIDIA A100-SXM4-80GB");
        assert_eq!(price_per_gpu_hour(&all[..2]), Some(3.0));
        assert_eq!(price_per_gpu_hour(&all), None, "mixed");
        assert_eq!(price_per_gpu_hour(&all[2..]), None, "unknown");
        assert_eq!(price_per_gpu_hour(&[]), None, "none");
    }

    #[test]
    fn cuda_visible_devices() {
        let all = parse_nvidia_smi(SMI);
        let names = |spec: Option<&str>| -> Vec<u32> {
            visible_gpus(&all, spec).iter().map(|g| g.index).collect()
        };
        assert_eq!(names(None), [0, 1, 2]);
        assert_eq!(names(Some("1")), [1]);
        assert_eq!(names(Some("1,0")), [1, 0]);
        assert_eq!(names(Some("GPU-bbbb")), [1]);
        assert_eq!(names(Some("GPU-")), Vec::<u32>::new(), "ambiguous prefix");
        assert_eq!(names(Some("0,7,2")), [0], "stops at the first unknown");
        assert_eq!(names(Some("")), Vec::<u32>::new());
        assert_eq!(names(Some("-1")), Vec::<u32>::new());
    }

    #[test]
    fn the_cost_formula() {
        assert_eq!(gpu_cost_usd(3600.0, 6.0), 6.0);
        assert_eq!(gpu_cost_usd(90.0, 6.0), 0.15);
        assert_eq!(gpu_cost_usd(0.0, 3.0), 0.0);
    }

    #[test]
    fn backend_rate_is_price_times_count_each_given_or_detected() {
        let two_h200s = || (2, Some(3.0));
        let never = || -> (u64, Option<f64>) { panic!("detection not needed") };
        assert_eq!(backend_usd_per_hour(Some(2.25), Some(2), never), Some(4.5));
        assert_eq!(backend_usd_per_hour(None, None, two_h200s), Some(6.0));
        assert_eq!(backend_usd_per_hour(Some(1.5), None, two_h200s), Some(3.0));
        assert_eq!(backend_usd_per_hour(None, Some(4), two_h200s), Some(12.0));
        // Unknown price, or no GPU: no rate.
        assert_eq!(backend_usd_per_hour(None, None, || (2, None)), None);
        assert_eq!(backend_usd_per_hour(Some(2.25), None, || (0, None)), None);
        assert_eq!(backend_usd_per_hour(Some(2.25), Some(0), never), None);
    }
}
