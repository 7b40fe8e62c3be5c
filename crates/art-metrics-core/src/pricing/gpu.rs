//! GPU prices for automatic `costs/gpu`: which GPUs this process can see, their price, the
//! hourly rate of a backend's GPUs and the cost formula.
//!
//! We ask `nvidia-smi` (no torch needed) and apply `CUDA_VISIBLE_DEVICES` as CUDA does.
//! Each visible GPU is priced from [`GPU_PRICES`]; a mixed set costs the sum of its GPUs.
//! A GPU the table does not know gives no price (and one warning), rather than a guess.
//! [`find_by_name`] is the one rule that matches an nvidia-smi name to a row of a GPU table
//! (this one, and `gpu_flops`' peak FLOP/s); [`sample`] also reads each GPU's memory in use,
//! for the opt-in efficiency figures.

use std::process::Command;

use crate::notices;

/// One row of [`GPU_PRICES`]: a GPU model, the tokens of its nvidia-smi name that identify
/// it, and its on-demand price per GPU-hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuPrice {
    pub model: &'static str,
    /// Every one must be a token of the upper-cased name (split at spaces, `-`, `_`).
    pub tokens: &'static [&'static str],
    pub usd_per_hour: f64,
}

/// When [`GPU_PRICES`] was read from its source.
pub const GPU_PRICES_AS_OF: &str = "2026-05-07";
/// Where [`GPU_PRICES`] comes from: openpipe-art's own value for the H200 (kept for parity:
/// ART logs `costs/gpu` at $3/h on H200s), and Modal's per-second on-demand GPU prices ×
/// 3600 (modal.com/pricing) for the others.
pub const GPU_PRICES_SOURCE: &str = "H200: openpipe-art 0.5.18 (_AUTO_GPU_HOURLY_PRICING_USD); \
    others: Modal on-demand per-second prices x 3600 (https://modal.com/pricing)";

/// USD per GPU-hour by model, matched against nvidia-smi names ([`gpu_price`]). More
/// specific rows first: an A100's memory size picks its row.
pub const GPU_PRICES: [GpuPrice; 8] = [
    GpuPrice {
        model: "H200",
        tokens: &["H200"],
        usd_per_hour: 3.0,
    },
    GpuPrice {
        model: "B200",
        tokens: &["B200"],
        usd_per_hour: 6.2496,
    },
    GpuPrice {
        model: "H100",
        tokens: &["H100"],
        usd_per_hour: 3.9492,
    },
    GpuPrice {
        model: "A100 80GB",
        tokens: &["A100", "80GB"],
        usd_per_hour: 2.4984,
    },
    GpuPrice {
        model: "A100 40GB",
        tokens: &["A100", "40GB"],
        usd_per_hour: 2.0988,
    },
    GpuPrice {
        model: "L40S",
        tokens: &["L40S"],
        usd_per_hour: 1.9512,
    },
    GpuPrice {
        model: "L4",
        tokens: &["L4"],
        usd_per_hour: 0.7992,
    },
    GpuPrice {
        model: "A10G",
        tokens: &["A10G"],
        usd_per_hour: 1.1016,
    },
];

/// The first of `rows` whose `tokens` are all whole tokens of the nvidia-smi name `name`
/// (`NVIDIA H100 80GB HBM3`, `NVIDIA A100-SXM4-40GB`, ...), upper-cased and split at spaces,
/// `-` and `_`: an `L40S` is not an `L4`. A table lists its more specific rows first.
pub fn find_by_name<'a, R>(
    name: &str,
    rows: &'a [R],
    tokens: impl Fn(&R) -> &'static [&'static str],
) -> Option<&'a R> {
    let upper = name.to_uppercase();
    let name_tokens: Vec<&str> = upper
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|t| !t.is_empty())
        .collect();
    rows.iter()
        .find(|row| tokens(row).iter().all(|t| name_tokens.contains(t)))
}

/// The price per hour of the GPU nvidia-smi calls `name`, if [`GPU_PRICES`] knows it
/// ([`find_by_name`]); the H200 row also matches anywhere in the name, as openpipe-art
/// matches it.
pub fn gpu_price(name: &str) -> Option<f64> {
    if name.to_uppercase().contains("H200") {
        return Some(GPU_PRICES[0].usd_per_hour);
    }
    find_by_name(name, &GPU_PRICES, |row| row.tokens).map(|row| row.usd_per_hour)
}

/// One GPU as `nvidia-smi` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuInfo {
    pub index: u32,
    pub uuid: String,
    pub name: String,
    /// `memory.used` in MiB when the query asked for it ([`sample`]) and the GPU says
    /// (`[N/A]` on some GPUs and MIG setups): all processes' memory, now, not a peak.
    pub memory_used_mib: Option<f64>,
}

/// The GPUs this process can see, each with its price per hour when [`GPU_PRICES`] knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuPricing {
    pub visible: Vec<GpuInfo>,
    pub usd_per_hour: Vec<Option<f64>>,
}

/// Parses `nvidia-smi --query-gpu=index,uuid,name --format=csv,noheader` output.
pub fn parse_nvidia_smi(output: &str) -> Vec<GpuInfo> {
    parse_lines(output, false)
}

/// Parses `nvidia-smi --query-gpu=index,uuid,memory.used,name --format=csv,noheader,nounits`
/// output (the name last: it is the one field that could hold a comma).
pub fn parse_nvidia_smi_memory(output: &str) -> Vec<GpuInfo> {
    parse_lines(output, true)
}

fn parse_lines(output: &str, with_memory: bool) -> Vec<GpuInfo> {
    let fields = if with_memory { 4 } else { 3 };
    output
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(fields, ',').map(str::trim);
            let index = parts.next()?.parse().ok()?;
            let uuid = parts.next()?.to_owned();
            let memory_used_mib = if with_memory {
                mebibytes(parts.next()?)
            } else {
                None
            };
            let name = parts.next()?.to_owned();
            (!name.is_empty()).then_some(GpuInfo {
                index,
                uuid,
                name,
                memory_used_mib,
            })
        })
        .collect()
}

/// `12345` (or `12345 MiB`) as MiB; `[N/A]`, `[Not Supported]` and the like are `None`.
fn mebibytes(field: &str) -> Option<f64> {
    let value: f64 = field.trim_end_matches("MiB").trim().parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value)
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

/// USD for `wall_s` seconds of GPU time at `usd_per_hour` (the rate of all the GPUs
/// together): wall × rate / 3600. The one formula for `costs/gpu`.
pub fn gpu_cost_usd(wall_s: f64, usd_per_hour: f64) -> f64 {
    wall_s * usd_per_hour / 3600.0
}

/// A backend's GPU rate, and the warning to give when it cannot be known.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendRate {
    /// USD per hour for all the backend's GPUs; `None`: no `costs/gpu`.
    pub usd_per_hour: Option<f64>,
    /// Why there is no rate, the first time that cause is seen in this process.
    pub warning: Option<String>,
}

/// USD per hour for all the GPUs of a backend.
///
/// * A given per-GPU price times the given GPU count, or times the number of visible GPUs.
/// * Otherwise each visible GPU at its [`GPU_PRICES`] price (a mixed set is the sum); a
///   given `gpu_count` scales their mean price.
///
/// `detect` runs only when something is not given, and returns each visible GPU's name and
/// price. No rate when a visible GPU has no known price (warning once, naming it and
/// `gpu_cost_per_hour_usd`), when a price is given but no GPU is visible and no count
/// given (warning once, naming `gpu_count`), or when there is no GPU at all.
pub fn backend_usd_per_hour(
    usd_per_gpu_hour: Option<f64>,
    gpu_count: Option<u64>,
    detect: impl FnOnce() -> Vec<(String, Option<f64>)>,
) -> BackendRate {
    let rate = |usd: f64| BackendRate {
        usd_per_hour: Some(usd),
        warning: None,
    };
    let none = |warning: Option<String>| BackendRate {
        usd_per_hour: None,
        warning,
    };
    if let (Some(p), Some(c)) = (usd_per_gpu_hour, gpu_count) {
        return if c > 0 {
            rate(p * c as f64)
        } else {
            none(None)
        };
    }
    let gpus = detect();
    if let Some(p) = usd_per_gpu_hour {
        if gpus.is_empty() {
            let warning = notices::first_time("gpu-price-without-gpus").then(|| {
                format!(
                    "gpu_cost_per_hour_usd={p} is set, but no GPU is visible (nvidia-smi, \
                     CUDA_VISIBLE_DEVICES) and gpu_count is not given: no costs/gpu is \
                     logged. Pass gpu_count=<number of GPUs> to the backend."
                )
            });
            return none(warning);
        }
        return rate(p * gpus.len() as f64);
    }
    if gpus.is_empty() {
        return none(None);
    }
    let mut total = 0.0;
    for (name, price) in &gpus {
        if let Some(p) = price {
            total += p;
        } else {
            let warning = notices::first_time(&format!("gpu-unknown\0{name}")).then(|| {
                let known: Vec<&str> = GPU_PRICES.iter().map(|r| r.model).collect();
                format!(
                    "No price is known for GPU '{name}' (known: {}): no costs/gpu is \
                     logged. Pass gpu_cost_per_hour_usd=<USD per GPU-hour> to the backend.",
                    known.join(", ")
                )
            });
            return none(warning);
        }
    }
    match gpu_count {
        Some(0) => none(None),
        Some(c) => rate(total / gpus.len() as f64 * c as f64),
        None => rate(total),
    }
}

/// Runs `nvidia-smi` and applies `CUDA_VISIBLE_DEVICES`. No nvidia-smi, or one that fails,
/// means no visible GPU.
pub fn detect() -> GpuPricing {
    let visible = visible_now(
        &["--query-gpu=index,uuid,name", "--format=csv,noheader"],
        parse_nvidia_smi,
    );
    GpuPricing {
        usd_per_hour: visible.iter().map(|g| gpu_price(&g.name)).collect(),
        visible,
    }
}

/// The visible GPUs with the memory each has in use now: one `nvidia-smi` run, then
/// `CUDA_VISIBLE_DEVICES`, as [`detect`].
pub fn sample() -> Vec<GpuInfo> {
    visible_now(
        &[
            "--query-gpu=index,uuid,memory.used,name",
            "--format=csv,noheader,nounits",
        ],
        parse_nvidia_smi_memory,
    )
}

fn visible_now(args: &[&str], parse: fn(&str) -> Vec<GpuInfo>) -> Vec<GpuInfo> {
    let all = match Command::new("nvidia-smi").args(args).output() {
        Ok(o) if o.status.success() => parse(&String::from_utf8_lossy(&o.stdout)),
        _ => Vec::new(),
    };
    let env = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    visible_gpus(&all, env.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMI: &str = "0, GPU-aaaa-1111, NVIDIA H200\n1, GPU-bbbb-2222, NVIDIA H200\n\
                       2, GPU-cccc-3333, NVIDIA A100-SXM4-80GB\n";

    #[test]
    fn parses() {
        let all = parse_nvidia_smi(SMI);
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].name, "NVIDIA A100-SXM4-80GB");
        assert_eq!(all[2].memory_used_mib, None);
    }

    #[test]
    fn parses_the_memory_query() {
        let out = "0, GPU-aaaa-1111, 40960, NVIDIA H100 80GB HBM3\n\
                   1, GPU-bbbb-2222, [N/A], NVIDIA H100 80GB HBM3\n\
                   2, GPU-cccc-3333, 512 MiB, NVIDIA L4\n";
        let all = parse_nvidia_smi_memory(out);
        let memory: Vec<Option<f64>> = all.iter().map(|g| g.memory_used_mib).collect();
        assert_eq!(memory, [Some(40960.0), None, Some(512.0)]);
        assert_eq!(all[0].name, "NVIDIA H100 80GB HBM3");
        assert_eq!(all[2].index, 2);
    }

    #[test]
    fn the_table_matches_nvidia_smi_names() {
        let cases = [
            ("NVIDIA H200", Some(3.0)),
            ("NVIDIA H200 NVL", Some(3.0)),
            ("NVIDIA GH200 480GB", Some(3.0)),
            ("NVIDIA B200", Some(6.2496)),
            ("NVIDIA H100 80GB HBM3", Some(3.9492)),
            ("NVIDIA H100 PCIe", Some(3.9492)),
            ("NVIDIA A100-SXM4-80GB", Some(2.4984)),
            ("NVIDIA A100 80GB PCIe", Some(2.4984)),
            ("NVIDIA A100-SXM4-40GB", Some(2.0988)),
            ("NVIDIA A100-PCIE-40GB", Some(2.0988)),
            ("NVIDIA L40S", Some(1.9512)),
            ("NVIDIA L4", Some(0.7992)),
            ("NVIDIA A10G", Some(1.1016)),
            ("NVIDIA L40", None),
            ("NVIDIA A10", None),
            ("Tesla T4", None),
            ("NVIDIA A100", None),
        ];
        for (name, price) in cases {
            assert_eq!(gpu_price(name), price, "{name}");
        }
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

    fn rates(r: BackendRate) -> Option<f64> {
        r.usd_per_hour
    }

    #[test]
    fn backend_rate_is_price_times_count_each_given_or_detected() {
        let h200 = || ("NVIDIA H200".to_string(), Some(3.0));
        let two_h200s = || vec![h200(), h200()];
        let never = || -> Vec<(String, Option<f64>)> { panic!("detection not needed") };
        assert_eq!(
            rates(backend_usd_per_hour(Some(2.25), Some(2), never)),
            Some(4.5)
        );
        assert_eq!(
            rates(backend_usd_per_hour(None, None, two_h200s)),
            Some(6.0)
        );
        assert_eq!(
            rates(backend_usd_per_hour(Some(1.5), None, two_h200s)),
            Some(3.0)
        );
        assert_eq!(
            rates(backend_usd_per_hour(None, Some(4), two_h200s)),
            Some(12.0)
        );
        assert_eq!(
            rates(backend_usd_per_hour(Some(2.25), Some(0), never)),
            None
        );
        assert_eq!(rates(backend_usd_per_hour(None, None, Vec::new)), None);
    }

    #[test]
    fn a_mixed_set_is_priced_per_gpu() {
        let mixed = || {
            vec![
                ("NVIDIA H200".to_string(), Some(3.0)),
                ("NVIDIA L4".to_string(), Some(0.75)),
            ]
        };
        assert_eq!(rates(backend_usd_per_hour(None, None, mixed)), Some(3.75));
        // A given count scales the mean price.
        assert_eq!(rates(backend_usd_per_hour(None, Some(4), mixed)), Some(7.5));
    }

    #[test]
    fn no_rate_warns_once_naming_the_fix() {
        let unknown = || vec![("Test GPU gpu.rs".to_string(), None)];
        let r = backend_usd_per_hour(None, None, unknown);
        assert_eq!(r.usd_per_hour, None);
        let w = r.warning.unwrap();
        assert!(
            w.contains("'Test GPU gpu.rs'") && w.contains("gpu_cost_per_hour_usd="),
            "{w}"
        );
        assert_eq!(
            backend_usd_per_hour(None, None, unknown).warning,
            None,
            "once"
        );

        // The no-GPU cause may have fired already in this process (the Python tests share
        // it); when it fires, it names gpu_count.
        let r = backend_usd_per_hour(Some(2.25), None, Vec::new);
        assert_eq!(r.usd_per_hour, None);
        if let Some(w) = r.warning {
            assert!(w.contains("gpu_count="), "{w}");
        }
        assert_eq!(
            backend_usd_per_hour(Some(2.25), None, Vec::new).warning,
            None
        );
    }
}
