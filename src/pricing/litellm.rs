//! The one reader of litellm's price map (`model_prices_and_context_window.json`): which
//! entries we price, under which names, at which prices.
//!
//! Both catalogs go through it: the built-in one (`catalog.json` holds litellm's entries
//! verbatim, selected and copied by `scripts/gen_catalog.py`) and the map `refresh_catalog`
//! downloads. The rules, in the order they apply:
//!
//! - an entry is priced when it is a JSON object, its `litellm_provider` is `openai`,
//!   `anthropic` or `gemini` (catalog provider `google`), and its `mode` is `chat`;
//! - prices are USD per token, read as `per_token * 1e6` per million (the product the
//!   reference computes, float noise included); a missing input or output price is 0, as
//!   litellm's `get_model_info` makes it; null and bool prices are absent;
//! - a price that is negative, not finite, or a string that is not a number refuses the
//!   whole map, naming the model and field (a wrong price must not be used, nor silently
//!   leave a model unpriced; `refresh_catalog` then keeps the previous catalog);
//! - `<field>_above_<N>k_tokens` prices form long-context tiers;
//! - names: `openai/x` and `anthropic/x` keys resolve as written; bare OpenAI and
//!   Anthropic keys also with their provider prefix; `gemini/x` keys as written and own
//!   the model `x`, so a bare Gemini key `x` is only another name for it when its prices
//!   agree;
//! - a map without an OpenAI or an Anthropic chat model is not a litellm price map.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::catalog::{ModelPrices, Tier};
use super::{TokenPricing, is_price};
use crate::error::{CoreError, CoreResult};

/// The priced entries of a litellm map.
#[derive(Debug, Clone, Default)]
pub struct LitellmPrices {
    /// Every resolvable name (`gpt-4o`, `openai/gpt-4o`) to its prices.
    pub names: HashMap<String, Arc<ModelPrices>>,
    /// Models per catalog provider (`anthropic`, `google`, `openai`), sorted.
    pub counts: Vec<(String, usize)>,
}

impl LitellmPrices {
    /// Adds `name` as another name of the model litellm keys `key` (names litellm itself
    /// resolves that the rules above do not give, recorded by the catalog generator).
    pub fn add_alias(&mut self, name: &str, key: &str) -> CoreResult<()> {
        let Some(target) = self.names.get(key).map(Arc::clone) else {
            return Err(CoreError::Corrupt(format!(
                "alias '{name}' points to '{key}', which is not a priced model"
            )));
        };
        if self.names.contains_key(name) {
            return Err(CoreError::Corrupt(format!(
                "alias '{name}' is already a name of a priced model"
            )));
        }
        self.names.insert(name.to_owned(), target);
        Ok(())
    }
}

/// Reads a litellm price map (module docs for the rules).
pub fn parse_map(map: &Value) -> CoreResult<LitellmPrices> {
    let Value::Object(entries) = map else {
        return Err(CoreError::Corrupt(
            "price map must be a JSON object of model names to prices".into(),
        ));
    };
    let mut keys: Vec<&String> = entries.keys().collect();
    // Prefixed keys first, so that `gemini/x` owns the model `x`.
    keys.sort_by_key(|k| (!k.contains('/'), k.as_str()));
    let mut names: HashMap<String, Arc<ModelPrices>> = HashMap::new();
    let mut bare_models: HashMap<String, Arc<ModelPrices>> = HashMap::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for key in keys {
        let Value::Object(info) = &entries[key] else {
            continue;
        };
        let Some((provider, prefix)) = provider_of(info) else {
            continue;
        };
        if info.get("mode").and_then(Value::as_str) != Some("chat") {
            continue;
        }
        let prices = Arc::new(entry_prices(key, info)?);
        let (bare, aliases) = match key.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
            Some(bare) => (bare.to_owned(), vec![key.clone()]),
            None if provider == "google" => (key.clone(), vec![key.clone()]),
            None => (key.clone(), vec![key.clone(), format!("{prefix}/{key}")]),
        };
        if let Some(existing) = bare_models.get(&bare) {
            // litellm has both `gemini/x` and `x`: the bare one is kept only if it agrees.
            if existing.base == prices.base && !names.contains_key(key) {
                names.insert(key.clone(), Arc::clone(existing));
            }
            continue;
        }
        bare_models.insert(bare, Arc::clone(&prices));
        *counts.entry(provider).or_default() += 1;
        for alias in aliases {
            names.entry(alias).or_insert_with(|| Arc::clone(&prices));
        }
    }
    for needed in ["openai", "anthropic"] {
        if !counts.contains_key(needed) {
            return Err(CoreError::Corrupt(format!(
                "price map has no {needed} chat model; is it a litellm \
                 model_prices_and_context_window.json?"
            )));
        }
    }
    let mut counts: Vec<(String, usize)> =
        counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    counts.sort();
    Ok(LitellmPrices { names, counts })
}

/// The catalog provider and lookup prefix of a litellm entry we price, if any.
fn provider_of(info: &Map<String, Value>) -> Option<(&'static str, &'static str)> {
    match info.get("litellm_provider")?.as_str()? {
        "openai" => Some(("openai", "openai")),
        "anthropic" => Some(("anthropic", "anthropic")),
        "gemini" => Some(("google", "gemini")),
        _ => None,
    }
}

/// One price as USD per million tokens (module docs for what is absent or refused).
fn per_million(key: &str, info: &Map<String, Value>, field: &str) -> CoreResult<Option<f64>> {
    // Checked per million: a finite price per token can still overflow (1e305 * 1e6).
    let usable = |v: f64| (is_price(v) && (v * 1e6).is_finite()).then_some(v * 1e6);
    let refused = |shown: String| {
        CoreError::Corrupt(format!(
            "price map: '{key}'.{field} must be a finite non-negative number, got {shown}"
        ))
    };
    match info.get(field) {
        Some(Value::Number(n)) => usable(n.as_f64().unwrap_or(f64::NAN))
            .map(Some)
            .ok_or_else(|| refused(n.to_string())),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(usable)
            .map(Some)
            .ok_or_else(|| refused(format!("'{s}'"))),
        _ => Ok(None),
    }
}

/// The long-context thresholds (in thousands of tokens) an entry prices, ascending.
fn tier_thresholds(info: &Map<String, Value>) -> Vec<u64> {
    let mut thresholds: Vec<u64> = info
        .keys()
        .filter_map(|f| {
            let rest = f.strip_suffix("k_tokens")?;
            let (head, k) = rest.rsplit_once("_above_")?;
            matches!(
                head,
                "input_cost_per_token"
                    | "output_cost_per_token"
                    | "cache_read_input_token_cost"
                    | "cache_creation_input_token_cost"
            )
            .then(|| k.parse::<u64>().ok())
            .flatten()
            // A threshold past u64 tokens is no threshold (and must not overflow).
            .filter(|k| k.checked_mul(1000).is_some())
        })
        .collect();
    thresholds.sort_unstable();
    thresholds.dedup();
    thresholds
}

fn entry_prices(key: &str, info: &Map<String, Value>) -> CoreResult<ModelPrices> {
    let get = |field: &str| per_million(key, info, field);
    let cache_read = get("cache_read_input_token_cost")?;
    let mut tiers = Vec::new();
    for k in tier_thresholds(info) {
        tiers.push(Tier {
            above_tokens: (k * 1000) as f64,
            prompt: get(&format!("input_cost_per_token_above_{k}k_tokens"))?,
            completion: get(&format!("output_cost_per_token_above_{k}k_tokens"))?,
            cache_read: get(&format!("cache_read_input_token_cost_above_{k}k_tokens"))?,
            cache_creation: get(&format!(
                "cache_creation_input_token_cost_above_{k}k_tokens"
            ))?,
        });
    }
    Ok(ModelPrices {
        key: key.to_owned(),
        table: "litellm",
        base: TokenPricing {
            prompt_per_million: get("input_cost_per_token")?.unwrap_or(0.0),
            completion_per_million: get("output_cost_per_token")?.unwrap_or(0.0),
            // The reference prices OpenAI cached prompts at the cache-read price too.
            cached_prompt_per_million: cache_read,
            cache_creation_per_million: get("cache_creation_input_token_cost")?,
            cache_read_per_million: cache_read,
        },
        cache_creation_1h_per_million: get("cache_creation_input_token_cost_above_1hr")?,
        tiers,
    })
}

#[cfg(test)]
#[path = "litellm_tests.rs"]
mod tests;
