//! What the fuzz targets check, shared by the libFuzzer binaries (`fuzz_targets/`) and the
//! seed replay test below (which runs on stable with a plain `cargo test`).
//!
//! Invariants: no panic on any input; every cost or price the core accepts is a finite,
//! non-negative number; every refusal has a message; an accepted cost can be recorded.

use art_metrics_core::metrics::Builder;
use art_metrics_core::pricing::catalog::PriceOrigin;
use art_metrics_core::pricing::prices::{PriceKey, RequestContext, RequestTime};
use art_metrics_core::pricing::refresh::merge_price_list;
use art_metrics_core::pricing::store;
use art_metrics_core::pricing::{Overrides, ResponseFields, TokenCall, token_cost};
use serde_json::Value;

const PROVIDERS: [&str; 5] = ["openai", "anthropic", "google", "gemini", "xyz"];
const MODELS: [&str; 4] = [
    "gpt-4o",
    "openai/gpt-4.1",
    "claude-sonnet-4-5-20250929",
    "gemini-2.5-pro",
];

fn assert_price(what: &str, v: f64) {
    assert!(v.is_finite() && v >= 0.0, "{what} = {v}");
}

/// Records an accepted cost: it must go in.
fn record(cost: f64) {
    assert_price("cost", cost);
    let b = Builder::new("train").unwrap();
    b.add_cost("train/fuzz", cost).unwrap();
    assert_eq!(b.flush().get("costs/all"), Some(cost));
}

/// A response (JSON bytes) priced under every provider, as `add_response_cost` does after
/// reading the Python object into the same `ResponseFields`.
pub fn check_response(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let catalog = store::builtin();
    let own_model = v.get("model").and_then(Value::as_str);
    let overrides = [
        Overrides::default(),
        // Large prices, so that big token counts reach the overflow checks.
        Overrides {
            prompt: Some(1e300),
            completion: Some(1e300),
            ..Overrides::default()
        },
    ];
    for provider in PROVIDERS {
        let formula = catalog.formula(provider);
        let fields = ResponseFields::from_json(&v, formula);
        match fields.reported_cost() {
            Ok(Some(cost)) => record(cost),
            Ok(None) => {}
            Err(e) => assert!(!e.to_string().is_empty()),
        }
        for model in MODELS.iter().copied().chain(own_model) {
            let found = catalog.resolve(provider, model).map(|f| f.model);
            for o in &overrides {
                let call = TokenCall {
                    provider,
                    formula,
                    model,
                    overrides: o,
                    batch: false,
                };
                let m = found.as_ref().map(|m| &**m).map_err(Clone::clone);
                match token_cost(call, None, m, &fields) {
                    Ok(cost) => record(cost),
                    Err(e) => assert!(!e.to_string().is_empty()),
                }
            }
        }
    }
}

/// A price list (JSON bytes) merged as `refresh_catalog` merges a download.
pub fn check_catalog(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let base = store::builtin();
    let merged = match merge_price_list(&v, &base, PriceOrigin::Builtin, "fuzz".into()) {
        Ok(m) => m,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    assert!(merged.skipped.iter().all(|s| !s.is_empty()));
    let catalog = merged.catalog;
    let usage = serde_json::json!({"usage": {
        "prompt_tokens": 300000, "completion_tokens": 1000,
        "input_tokens": 300000, "output_tokens": 1000, "cache_read_input_tokens": 10,
    }, "usage_metadata": {"prompt_token_count": 300000, "candidates_token_count": 10}});
    let now = RequestTime::now();
    let contexts = [
        RequestContext::default(),
        RequestContext {
            service_tier: Some("flex"),
            batch: true,
            fast: true,
        },
    ];
    for (provider, model, names) in catalog.entries().into_iter().take(256) {
        for ctx in &contexts {
            let applied = model.applied(now, ctx);
            for key in PriceKey::ALL {
                for tokens in [0.0, 1e3, 2.5e5, 1e6, 1e12] {
                    assert_price(key.name(), applied.price(key, tokens));
                }
            }
        }
        let formula = catalog.formula(&provider);
        let fields = ResponseFields::from_json(&usage, formula);
        let o = Overrides::default();
        let name = &names[0];
        let call = TokenCall {
            provider: &provider,
            formula,
            model: name,
            overrides: &o,
            batch: false,
        };
        match token_cost(call, None, Ok(&model), &fields) {
            Ok(cost) => record(cost),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

/// Structure-aware mutations for the stable fallback (no libFuzzer): splice a JSON token or
/// an interesting value over a random span, flip a byte, or cut.
pub mod mutate {
    /// Values that probe the parsers' edges: wrong types, signs, overflow, subnormals.
    pub const TOKENS: [&str; 24] = [
        "null",
        "true",
        "false",
        "-1",
        "0",
        "1e308",
        "-1e308",
        "1e-320",
        "18446744073709551616",
        "\"inf\"",
        "\"nan\"",
        "\"-5\"",
        "\"1000\"",
        "[]",
        "[1]",
        "{}",
        "{\"total_cost\": -1}",
        "\"\"",
        "1.5",
        "1e305",
        "\"input_cost_per_token_above_99999999999999999999k_tokens\"",
        "{\"cached_tokens\": 1e308}",
        "\"usage\"",
        "\"gemini\"",
    ];

    /// xorshift64*: deterministic from the seed, good enough to pick mutations.
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        pub fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n.max(1) as u64) as usize
        }
    }

    /// One to four mutations of `input`.
    pub fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..=rng.below(4) {
            let at = rng.below(out.len() + 1);
            match rng.below(4) {
                0 | 1 => {
                    // Replace a number-or-word span (or nothing) with a token.
                    let end = (at..out.len())
                        .find(|&i| matches!(out[i], b',' | b'}' | b']' | b':'))
                        .unwrap_or(out.len());
                    let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                    out.splice(at..end, token.iter().copied());
                }
                2 if !out.is_empty() => {
                    let i = rng.below(out.len());
                    out[i] ^= 1 << rng.below(8);
                }
                _ => out.truncate(at),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, Instant};

    fn seeds(target: &str) -> Vec<Vec<u8>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("seeds")
            .join(target);
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| std::fs::read(e.path()).unwrap())
            .collect()
    }

    /// The fallback when nightly or libFuzzer is unavailable: mutated seeds for
    /// `FUZZ_SECONDS` (default 30) per target. `cargo test --release -- --ignored`.
    #[test]
    #[ignore]
    fn random_inputs_for_a_bounded_time() {
        let secs = std::env::var("FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30);
        let mut rng = super::mutate::Rng(0x9E37_79B9_7F4A_7C15);
        for (target, check) in [
            ("response", super::check_response as fn(&[u8])),
            ("catalog", super::check_catalog),
        ] {
            let mut pool = seeds(target);
            let (start, mut runs) = (Instant::now(), 0u64);
            while start.elapsed() < Duration::from_secs(secs) {
                let parent = &pool[rng.below(pool.len())];
                let child = super::mutate::mutate(parent, &mut rng);
                check(&child);
                runs += 1;
                // Keep inputs that still parse, so mutations compound.
                if pool.len() < 4096 && serde_json::from_slice::<serde_json::Value>(&child).is_ok()
                {
                    pool.push(child);
                }
            }
            eprintln!("{target}: {runs} inputs in {secs} s, no failure");
        }
    }

    /// Replays the committed seeds (and everything libFuzzer has added to the local corpus).
    #[test]
    fn seeds_and_corpus_replay() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (target, check) in [
            ("response", super::check_response as fn(&[u8])),
            ("catalog", super::check_catalog),
        ] {
            for dir in ["seeds", "corpus", "artifacts"] {
                let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
                    continue;
                };
                for entry in entries.flatten() {
                    check(&std::fs::read(entry.path()).unwrap());
                }
            }
        }
    }
}
