//! Each GPU's dense BF16 tensor peak, the denominator of the opt-in MFU figures
//! (`history::efficiency`).
//!
//! Datasheets print most of these figures "with sparsity" (2:4 structured sparsity, which
//! training does not use); the table holds the dense figure, half of those. Rows are matched
//! to nvidia-smi names by [`gpu::find_by_name`], the rule the GPU prices use. A GPU the table
//! does not know gives no peak, so no MFU, rather than a guess.

use super::gpu;

/// One row of [`GPU_PEAKS`]: a GPU model, the tokens of its nvidia-smi name that identify it,
/// its dense BF16 tensor peak, and the datasheet figure it comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuPeak {
    pub model: &'static str,
    /// Every one must be a token of the upper-cased name ([`gpu::find_by_name`]).
    pub tokens: &'static [&'static str],
    /// Dense BF16 tensor TFLOP/s per GPU.
    pub dense_bf16_tflops: f64,
    /// Where the figure comes from, as printed there.
    pub source: &'static str,
}

/// When [`GPU_PEAKS`] was read from its sources (through published copies and quotations of
/// NVIDIA's pages: nvidia.com itself could not be opened from where the table was written).
pub const GPU_PEAKS_AS_OF: &str = "2026-12-07";

/// Dense BF16 tensor peaks by model, matched against nvidia-smi names ([`peak_flops`]).
/// More specific rows first: `NVIDIA H100 PCIe` and `NVIDIA H100 NVL` before any H100
/// (`NVIDIA H100 80GB HBM3` is the SXM part).
pub const GPU_PEAKS: [GpuPeak; 11] = [
    GpuPeak {
        model: "H200 NVL",
        tokens: &["H200", "NVL"],
        dense_bf16_tflops: 835.5,
        source: "1,671 TFLOPS with sparsity, H200 NVL column, \
                 https://www.nvidia.com/en-us/data-center/h200/",
    },
    GpuPeak {
        model: "H200 SXM",
        tokens: &["H200"],
        dense_bf16_tflops: 989.5,
        source: "1,979 TFLOPS with sparsity, H200 SXM column, \
                 https://www.nvidia.com/en-us/data-center/h200/",
    },
    GpuPeak {
        model: "B200 (HGX)",
        tokens: &["B200"],
        dense_bf16_tflops: 2250.0,
        source: "36 PFLOPS FP16/BF16 with sparsity for the 8 GPUs of an HGX B200 (\"dense is \
                 1/2 sparse\"), https://www.nvidia.com/en-us/data-center/hgx/",
    },
    GpuPeak {
        model: "H100 NVL",
        tokens: &["H100", "NVL"],
        dense_bf16_tflops: 835.5,
        source: "1,671 TFLOPS with sparsity, H100 NVL column, \
                 https://www.nvidia.com/en-us/data-center/h100/",
    },
    GpuPeak {
        model: "H100 PCIe",
        tokens: &["H100", "PCIE"],
        dense_bf16_tflops: 756.5,
        source: "1,513 TFLOPS with sparsity, H100 PCIe column of the H100 datasheet",
    },
    GpuPeak {
        // The PCIe card has HBM2e; some drivers name it by its memory.
        model: "H100 PCIe",
        tokens: &["H100", "HBM2E"],
        dense_bf16_tflops: 756.5,
        source: "1,513 TFLOPS with sparsity, H100 PCIe column of the H100 datasheet",
    },
    GpuPeak {
        model: "H100 SXM",
        tokens: &["H100"],
        dense_bf16_tflops: 989.5,
        source: "1,979 TFLOPS with sparsity, H100 SXM column, \
                 https://www.nvidia.com/en-us/data-center/h100/",
    },
    GpuPeak {
        model: "A100 (40GB and 80GB, SXM and PCIe)",
        tokens: &["A100"],
        dense_bf16_tflops: 312.0,
        source: "312 TFLOPS | 624 TFLOPS with sparsity, A100 datasheet \
                 (nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf)",
    },
    GpuPeak {
        model: "L40S",
        tokens: &["L40S"],
        dense_bf16_tflops: 362.05,
        source: "362.05 TFLOPS | 733 TFLOPS with sparsity, L40S datasheet",
    },
    GpuPeak {
        model: "L4",
        tokens: &["L4"],
        dense_bf16_tflops: 121.0,
        source: "242 TFLOPS with sparsity, L4 datasheet",
    },
    GpuPeak {
        // AWS's variant of the A10 has no NVIDIA datasheet; third-party figures for it range
        // down to about half this, so an A10G's MFU may read low.
        model: "A10G",
        tokens: &["A10G"],
        dense_bf16_tflops: 125.0,
        source: "the A10's: 125 TFLOPS | 250 TFLOPS with sparsity, A10 datasheet (a10-datasheet.pdf)",
    },
];

/// The dense BF16 peak FLOP/s of the GPU nvidia-smi calls `name`, if [`GPU_PEAKS`] knows it.
pub fn peak_flops(name: &str) -> Option<f64> {
    gpu::find_by_name(name, &GPU_PEAKS, |row| row.tokens).map(|row| row.dense_bf16_tflops * 1e12)
}

/// The summed peak FLOP/s of a backend's GPUs: each visible GPU's [`peak_flops`], or with a
/// given `gpu_count` their mean × that count (as [`gpu::backend_usd_per_hour`] prices a
/// given count). `None` when no GPU is visible, one has no known peak, or the count is 0.
pub fn total_peak_flops<'a>(
    visible_names: impl ExactSizeIterator<Item = &'a str>,
    gpu_count: Option<u64>,
) -> Option<f64> {
    let visible = visible_names.len();
    if visible == 0 || gpu_count == Some(0) {
        return None;
    }
    let mut total = 0.0;
    for name in visible_names {
        total += peak_flops(name)?;
    }
    Some(match gpu_count {
        Some(count) => total / visible as f64 * count as f64,
        None => total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_nvidia_smi_names() {
        let cases = [
            ("NVIDIA H100 80GB HBM3", Some(989.5)),
            ("NVIDIA H100 PCIe", Some(756.5)),
            ("NVIDIA H100 80GB HBM2e", Some(756.5)),
            ("NVIDIA H100 NVL", Some(835.5)),
            ("NVIDIA H200", Some(989.5)),
            ("NVIDIA H200 NVL", Some(835.5)),
            ("NVIDIA B200", Some(2250.0)),
            ("NVIDIA A100-SXM4-80GB", Some(312.0)),
            ("NVIDIA A100-SXM4-40GB", Some(312.0)),
            ("NVIDIA A100 80GB PCIe", Some(312.0)),
            ("NVIDIA A100-PCIE-40GB", Some(312.0)),
            ("NVIDIA L40S", Some(362.05)),
            ("NVIDIA L4", Some(121.0)),
            ("NVIDIA A10G", Some(125.0)),
            // Not in the table: no peak rather than a neighbour's.
            ("NVIDIA L40", None),
            ("NVIDIA A10", None),
            ("Tesla T4", None),
            ("NVIDIA GH200 480GB", None),
        ];
        for (name, tflops) in cases {
            assert_eq!(peak_flops(name), tflops.map(|t| t * 1e12), "{name}");
        }
    }

    #[test]
    fn each_row_is_reachable_and_dense() {
        for (i, row) in GPU_PEAKS.iter().enumerate() {
            let name = format!("NVIDIA {}", row.tokens.join(" "));
            let found = gpu::find_by_name(&name, &GPU_PEAKS, |r| r.tokens);
            assert_eq!(
                found,
                Some(&GPU_PEAKS[i]),
                "{name}: an earlier row shadows it"
            );
            // Every H100/H200/B200/L4 figure is half a printed sparse one.
            assert!(row.dense_bf16_tflops > 0.0 && row.source.contains("sparsity"));
        }
    }

    #[test]
    fn a_backends_total_peak() {
        let h100 = "NVIDIA H100 80GB HBM3";
        let l4 = "NVIDIA L4";
        let total = |names: &[&str], count| total_peak_flops(names.iter().copied(), count);
        assert_eq!(total(&[h100, h100], None), Some(1979e12));
        assert_eq!(
            total(&[h100, l4], None),
            Some(1110.5e12),
            "a mixed set sums"
        );
        // A given count scales the mean: (989.5 + 121) / 2 × 4.
        assert_eq!(total(&[h100, l4], Some(4)), Some(2221e12));
        assert_eq!(total(&[h100], Some(0)), None);
        assert_eq!(total(&[], Some(2)), None, "no names, no peak");
        assert_eq!(total(&[h100, "Tesla T4"], None), None, "one unknown GPU");
    }
}
