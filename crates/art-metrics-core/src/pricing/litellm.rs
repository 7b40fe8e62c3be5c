//! The reader of litellm's price map (`model_prices_and_context_window.json`), for
//! `refresh_catalog`; `scripts/gen_catalog.py` applies the same rules when it takes the names
//! genai-prices lacks from litellm's bundled map. The rules:
//!
//! - an entry is read when it is a JSON object whose `litellm_provider` is one of a catalog
//!   provider's (`gemini` is `google`, `together_ai` is `together`...) and whose `mode` is
//!   `chat`, `responses` or `completion` (Responses-only models included);
//! - its name is the key without its provider prefix (`gemini/x` is `x`), lowercased; a
//!   prefixed key wins over a bare one; `vendor/model` names only for the routers
//!   (openrouter, fireworks, together);
//! - per-token prices become per-million ones exactly (`2.5e-06` is `2.5`, as a decimal);
//!   `<field>_above_<N>k_tokens` are long-context tiers; `_flex`, `_priority` and `_batches`
//!   suffixes are service-tier and batch variants; `search_context_cost_per_query` (medium)
//!   prices web searches;
//! - `null` is no price; an entry without both an input and an output price is not a token
//!   price and is left out; a bad value (negative, not finite, a bool, a list, a string that
//!   is not a number) skips its entry with a warning naming it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::catalog::PriceCatalog;
use super::genai::Parsed;
use super::prices::{Condition, Model, Period, Price, PriceKey, PriceSet, Variant};
use super::{is_price, listed_price};

/// litellm field -> catalog key (USD per token, read per million).
const FIELDS: [(&str, PriceKey); 14] = [
    ("input_cost_per_token", PriceKey::Input),
    ("output_cost_per_token", PriceKey::Output),
    ("cache_read_input_token_cost", PriceKey::CacheRead),
    ("cache_creation_input_token_cost", PriceKey::CacheWrite),
    (
        "cache_creation_input_token_cost_above_1hr",
        PriceKey::CacheWrite1h,
    ),
    (
        "cache_creation_input_token_cost_above_12hr",
        PriceKey::CacheWrite12h,
    ),
    ("input_cost_per_audio_token", PriceKey::InputAudio),
    (
        "cache_read_input_audio_token_cost",
        PriceKey::CacheAudioRead,
    ),
    ("output_cost_per_audio_token", PriceKey::OutputAudio),
    ("input_cost_per_image_token", PriceKey::InputImage),
    (
        "cache_read_input_image_token_cost",
        PriceKey::CacheImageRead,
    ),
    ("output_cost_per_image_token", PriceKey::OutputImage),
    ("input_cost_per_video_token", PriceKey::InputVideo),
    ("output_cost_per_reasoning_token", PriceKey::OutputReasoning),
];

const VARIANTS: [(&str, &str, &str); 3] = [
    ("_flex", "service_tier", "flex"),
    ("_priority", "service_tier", "priority"),
    ("_batches", "processing", "batch"),
];

/// The entry kept for a name: whether its key was prefixed, the key, the entry.
type Chosen<'a> = (bool, &'a String, &'a Map<String, Value>);

const MODES: [&str; 3] = ["chat", "responses", "completion"];
const ROUTERS: [&str; 3] = ["openrouter", "fireworks", "together"];

/// True when `data` looks like a litellm price map: an object with an entry that has a
/// `litellm_provider`.
pub fn is_litellm(data: &Value) -> bool {
    matches!(data, Value::Object(m) if m.values().any(|e| e.get("litellm_provider").is_some()))
}

/// Reads a litellm price map (module docs).
pub fn parse(data: &Value, catalog: &PriceCatalog) -> Parsed {
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    for (i, p) in catalog.providers().iter().enumerate() {
        for l in &p.litellm {
            owner.insert(l.clone(), i);
        }
    }
    let mut out = Parsed::default();
    let Value::Object(entries) = data else {
        return out;
    };
    // (provider index, name) -> (prefixed key?, key, entry)
    let mut chosen: BTreeMap<(usize, String), Chosen<'_>> = BTreeMap::new();
    for (key, info) in entries {
        let Value::Object(info) = info else { continue };
        let Some(lp) = info.get("litellm_provider").and_then(Value::as_str) else {
            continue;
        };
        let Some(&idx) = owner.get(lp) else { continue };
        if !info
            .get("mode")
            .and_then(Value::as_str)
            .is_some_and(|m| MODES.contains(&m))
        {
            continue;
        }
        let (name, prefixed) = strip_prefix(key, lp);
        let name = name.to_lowercase();
        if name.is_empty()
            || (name.contains('/') && !ROUTERS.contains(&catalog.providers()[idx].name.as_str()))
        {
            continue;
        }
        let slot = chosen.entry((idx, name)).or_insert((prefixed, key, info));
        if prefixed && !slot.0 {
            *slot = (prefixed, key, info);
        }
    }
    for ((idx, name), (_, key, info)) in chosen {
        match entry_model(&name, info) {
            Ok(Some(model)) => out.models.push((idx, model)),
            Ok(None) => {}
            Err(e) => out.skipped.push(format!("{key}: {e}")),
        }
    }
    out
}

fn strip_prefix<'a>(key: &'a str, litellm_provider: &str) -> (&'a str, bool) {
    for prefix in [litellm_provider, "gemini", "openai", "anthropic"] {
        if let Some(rest) = key.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
            return (rest, true);
        }
    }
    (key, false)
}

/// A per-unit price as a per-million one, exactly as decimals (`2.5e-06` -> `2.5`).
pub fn per_million(x: f64) -> f64 {
    let s = format!("{x:e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => exp
            .parse::<i32>()
            .ok()
            .and_then(|e| format!("{mantissa}e{}", e + 6).parse().ok())
            .unwrap_or(x * 1e6),
        None => x * 1e6,
    }
}

/// A field's value per million: `Ok(None)` when absent or null; an error for a bad value.
fn field(info: &Map<String, Value>, f: &str) -> Result<Option<f64>, String> {
    let bad = || format!("{f} must be a finite non-negative number, got {}", info[f]);
    let v = match info.get(f) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64().ok_or_else(bad)?,
        Some(Value::String(s)) => s.trim().parse::<f64>().map_err(|_| bad())?,
        Some(_) => return Err(bad()),
    };
    let m = per_million(v);
    if is_price(v) && m.is_finite() {
        listed_price(m).map(Some).map_err(|e| format!("{f}: {e}"))
    } else {
        Err(bad())
    }
}

fn prices_for(info: &Map<String, Value>, suffix: &str) -> Result<PriceSet, String> {
    let mut set = PriceSet::default();
    for (f, key) in FIELDS {
        let Some(base) = field(info, &format!("{f}{suffix}"))? else {
            continue;
        };
        let mut tiers = Vec::new();
        for k in info.keys() {
            let Some(n) = k
                .strip_prefix(f)
                .and_then(|r| r.strip_prefix("_above_"))
                .and_then(|r| r.strip_suffix(suffix))
                .and_then(|r| r.strip_suffix("k_tokens"))
                .and_then(|n| n.parse::<u64>().ok())
                .and_then(|n| n.checked_mul(1000))
            else {
                continue;
            };
            if let Some(p) = field(info, k)? {
                tiers.push((n as f64, p));
            }
        }
        tiers.sort_by(|a, b| a.0.total_cmp(&b.0));
        let price = if tiers.is_empty() {
            Price::Flat(base)
        } else {
            Price::Tiered {
                base,
                tiers: tiers.into(),
            }
        };
        set.set(key, price);
    }
    if suffix.is_empty()
        && let Some(Value::Object(sc)) = info.get("search_context_cost_per_query")
        && let Some(p) = field(sc, "search_context_size_medium")?
    {
        set.set(PriceKey::WebSearches, Price::Flat(p / 1000.0));
    }
    Ok(set)
}

fn entry_model(name: &str, info: &Map<String, Value>) -> Result<Option<Model>, String> {
    let base = prices_for(info, "")?;
    if base.get(PriceKey::Input).is_none() || base.get(PriceKey::Output).is_none() {
        return Ok(None);
    }
    let mut variants = Vec::new();
    for (suffix, k, v) in VARIANTS {
        let prices = prices_for(info, suffix)?;
        if !prices.is_empty() {
            variants.push(Variant {
                when: vec![(k.into(), v.into())],
                from: None,
                prices,
            });
        }
    }
    Ok(Some(Model {
        id: name.to_owned(),
        names: Vec::new(),
        src: "litellm".into(),
        periods: vec![Period {
            when: Condition::Always,
            prices: base,
        }],
        variants,
    }))
}

#[cfg(test)]
#[path = "litellm_tests.rs"]
mod tests;
