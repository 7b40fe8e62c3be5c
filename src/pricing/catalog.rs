//! The price catalog: model names to token prices, built into the extension or loaded from a
//! litellm-format price map (both read by [`super::litellm`]), resolved the way
//! openpipe-art (through litellm) resolves names.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::{Formula, TokenPricing, litellm};
use crate::error::{CoreError, CoreResult};

/// The catalog written by `scripts/gen_catalog.py`: litellm's entries verbatim (USD per
/// token), the names litellm resolves beyond the parser's rules, and ART's own tables.
pub const BUILTIN_CATALOG_JSON: &str = include_str!("catalog.json");

/// A long-context tier: prices per million tokens once the input exceeds `above_tokens`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    pub above_tokens: f64,
    pub prompt: Option<f64>,
    pub completion: Option<f64>,
    pub cache_read: Option<f64>,
    pub cache_creation: Option<f64>,
}

/// The prices of one catalog model, per million tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPrices {
    /// The catalog's own name for the model (the litellm key, or ART's key).
    pub key: String,
    /// `litellm`, `art_builtin` or `art_tinker`: which table priced it.
    pub table: &'static str,
    pub base: TokenPricing,
    /// What the catalog lists for 1-hour cache writes (informational; see the formula).
    pub cache_creation_1h_per_million: Option<f64>,
    /// Ordered by `above_tokens`.
    pub tiers: Vec<Tier>,
}

impl ModelPrices {
    /// The prices for a call with `input_tokens` input tokens: the highest tier exceeded,
    /// over the base prices (a tier's missing price keeps the base one).
    pub fn pricing_for(&self, input_tokens: f64) -> TokenPricing {
        let Some(t) = self
            .tiers
            .iter()
            .rev()
            .find(|t| input_tokens > t.above_tokens)
        else {
            return self.base;
        };
        let b = self.base;
        TokenPricing {
            prompt_per_million: t.prompt.unwrap_or(b.prompt_per_million),
            completion_per_million: t.completion.unwrap_or(b.completion_per_million),
            cached_prompt_per_million: t.cache_read.or(b.cached_prompt_per_million),
            cache_creation_per_million: t.cache_creation.or(b.cache_creation_per_million),
            cache_read_per_million: t.cache_read.or(b.cache_read_per_million),
        }
    }
}

/// Where the active catalog came from.
#[derive(Debug, Clone, PartialEq)]
pub enum PriceOrigin {
    /// The catalog built into the extension.
    Builtin,
    /// A price map downloaded by `refresh_catalog` and cached at `path`.
    Cache {
        path: String,
        url: String,
        fetched_at: String,
    },
}

/// Model names to prices, plus where they come from.
#[derive(Debug, Clone)]
pub struct PriceCatalog {
    pub source: String,
    pub source_version: String,
    pub generated_at: String,
    pub sha256: String,
    pub origin: PriceOrigin,
    /// Every resolvable name (`gpt-4o`, `openai/gpt-4o`) to its prices.
    names: HashMap<String, Arc<ModelPrices>>,
    /// ART's own entries, matched exactly before the litellm names.
    builtin: HashMap<String, Arc<ModelPrices>>,
    /// ART's Tinker table, matched exactly after them.
    tinker: HashMap<String, Arc<ModelPrices>>,
    /// Models per provider (`openai`, `anthropic`, `google`).
    pub counts: Vec<(String, usize)>,
}

/// Provider prefixes litellm parses case-sensitively before a case-insensitive model key.
const PREFIXES: [&str; 3] = ["openai/", "anthropic/", "gemini/"];

impl PriceCatalog {
    /// Prices of `model` (already trimmed) for `formula`'s provider, in the reference's
    /// order: ART's entries, the litellm names, then ART's Tinker table. A bare name
    /// priced under google/gemini also tries `gemini/<name>`.
    pub fn resolve(&self, formula: Formula, model: &str) -> Option<Arc<ModelPrices>> {
        if let Some(p) = self.builtin.get(model) {
            return Some(Arc::clone(p));
        }
        let found = self.litellm_name(model).or_else(|| {
            (formula == Formula::Gemini && !model.contains('/'))
                .then(|| self.litellm_name(&format!("gemini/{model}")))
                .flatten()
        });
        found.or_else(|| self.tinker.get(model)).map(Arc::clone)
    }

    fn litellm_name(&self, name: &str) -> Option<&Arc<ModelPrices>> {
        if let Some(p) = self.names.get(name) {
            return Some(p);
        }
        // litellm matches keys case-insensitively, but parses the provider prefix as written.
        let lowered = match PREFIXES.iter().find(|p| name.starts_with(*p)) {
            Some(prefix) => format!("{prefix}{}", name[prefix.len()..].to_lowercase()),
            None if !name.contains('/') => name.to_lowercase(),
            None => return None,
        };
        self.names.get(&lowered)
    }

    /// Number of resolvable litellm names.
    pub fn name_count(&self) -> usize {
        self.names.len()
    }

    /// Parses the built-in catalog: litellm's entries through the one parser
    /// ([`super::litellm`]), the names litellm resolves beyond its rules, ART's tables.
    pub fn builtin() -> CoreResult<PriceCatalog> {
        Self::from_embedded(BUILTIN_CATALOG_JSON)
    }

    /// Parses a catalog in the format `scripts/gen_catalog.py` writes.
    pub fn from_embedded(json: &str) -> CoreResult<PriceCatalog> {
        let corrupt = |e: String| CoreError::Corrupt(format!("built-in price catalog: {e}"));
        let raw: EmbeddedCatalog =
            serde_json::from_str(json).map_err(|e| corrupt(e.to_string()))?;
        if raw.schema_version != EMBEDDED_SCHEMA_VERSION {
            return Err(corrupt(format!(
                "schema_version {} is not {EMBEDDED_SCHEMA_VERSION}",
                raw.schema_version
            )));
        }
        let mut litellm = litellm::parse_map(&raw.litellm).map_err(|e| corrupt(e.to_string()))?;
        for (name, key) in &raw.aliases {
            litellm
                .add_alias(name, key)
                .map_err(|e| corrupt(e.to_string()))?;
        }
        Ok(PriceCatalog {
            source: raw.source,
            source_version: raw.source_version,
            generated_at: raw.generated_at,
            sha256: raw.sha256,
            origin: PriceOrigin::Builtin,
            names: litellm.names,
            builtin: art_table("art_builtin", raw.art_builtin),
            tinker: art_table("art_tinker", raw.art_tinker.models),
            counts: litellm.counts,
        })
    }

    /// A catalog from a litellm price map (`{"gpt-4o": {"input_cost_per_token": ...,
    /// "litellm_provider": "openai", "mode": "chat"}, ...}`, read by [`litellm::parse_map`]),
    /// keeping ART's own tables from `base`.
    pub fn from_litellm_map(
        map: &Value,
        base: &PriceCatalog,
        sha256: String,
        origin: PriceOrigin,
    ) -> CoreResult<PriceCatalog> {
        let litellm = litellm::parse_map(map)?;
        Ok(PriceCatalog {
            source: "litellm model_prices_and_context_window.json".into(),
            source_version: match &origin {
                PriceOrigin::Cache { url, .. } => format!("downloaded from {url}"),
                PriceOrigin::Builtin => "unknown".into(),
            },
            generated_at: match &origin {
                PriceOrigin::Cache { fetched_at, .. } => fetched_at.clone(),
                PriceOrigin::Builtin => String::new(),
            },
            sha256,
            origin,
            names: litellm.names,
            builtin: base.builtin.clone(),
            tinker: base.tinker.clone(),
            counts: litellm.counts,
        })
    }
}

/// The `schema_version` of `catalog.json` this parser reads.
pub const EMBEDDED_SCHEMA_VERSION: u32 = 2;

/// `catalog.json`: provenance, ART's tables, and litellm's entries verbatim.
#[derive(Deserialize)]
struct EmbeddedCatalog {
    schema_version: u32,
    source: String,
    source_version: String,
    generated_at: String,
    sha256: String,
    art_builtin: HashMap<String, ArtPrices>,
    art_tinker: ArtTinker,
    /// Names litellm resolves beyond the parser's rules, to the litellm key they price as.
    aliases: HashMap<String, String>,
    /// litellm's entries, as in its price map.
    litellm: Value,
}

#[derive(Deserialize)]
struct ArtTinker {
    models: HashMap<String, ArtPrices>,
}

/// An entry of ART's own tables, already per million tokens.
#[derive(Deserialize)]
struct ArtPrices {
    prompt: f64,
    completion: f64,
    #[serde(default)]
    cached_prompt: Option<f64>,
    #[serde(default)]
    cache_creation: Option<f64>,
    #[serde(default)]
    cache_read: Option<f64>,
}

fn art_table(
    table: &'static str,
    entries: HashMap<String, ArtPrices>,
) -> HashMap<String, Arc<ModelPrices>> {
    entries
        .into_iter()
        .map(|(key, e)| {
            let prices = ModelPrices {
                key: key.clone(),
                table,
                base: TokenPricing {
                    prompt_per_million: e.prompt,
                    completion_per_million: e.completion,
                    cached_prompt_per_million: e.cached_prompt,
                    cache_creation_per_million: e.cache_creation,
                    cache_read_per_million: e.cache_read,
                },
                cache_creation_1h_per_million: None,
                tiers: Vec::new(),
            };
            (key, Arc::new(prices))
        })
        .collect()
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
