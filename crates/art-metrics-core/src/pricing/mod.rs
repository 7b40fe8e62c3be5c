//! Prices of API calls: the built-in catalog, usage extraction, the formulas and the
//! resolution order that turns a provider response into US dollars.
//!
//! Nothing here knows about Python; the extension crate's `pricing` converts responses and errors.

pub mod call_usage;
pub mod catalog;
pub mod formula;
pub mod genai;
pub mod gpu;
pub mod gpu_flops;
pub mod litellm;
pub mod merge;
pub mod order;
pub mod prices;
pub mod refresh;
pub mod store;
pub mod token_cost;
pub mod usage;

use std::collections::HashMap;

use crate::error::{CoreError, CoreResult};

pub use call_usage::CallUsage;
pub use catalog::{Found, PriceCatalog, PriceOrigin};
pub use order::{ExtractedCost, PriceCall, check_extracted, response_cost};
pub use prices::{Model, PriceKey};
pub use token_cost::{Overrides, TokenCall, no_pricing_error, token_cost};
pub use usage::{Field, ResponseFields, Scalar};

/// Token prices of one model, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TokenPricing {
    pub prompt_per_million: f64,
    pub completion_per_million: f64,
    pub cached_prompt_per_million: Option<f64>,
    pub cache_creation_per_million: Option<f64>,
    pub cache_read_per_million: Option<f64>,
}

impl TokenPricing {
    /// Checks that every price is a finite, non-negative number.
    pub fn validate(&self, model_name: &str) -> CoreResult<()> {
        check_prices(
            [
                ("prompt_per_million", Some(self.prompt_per_million)),
                ("completion_per_million", Some(self.completion_per_million)),
                ("cached_prompt_per_million", self.cached_prompt_per_million),
                (
                    "cache_creation_per_million",
                    self.cache_creation_per_million,
                ),
                ("cache_read_per_million", self.cache_read_per_million),
            ],
            |name| format!("{name} for model '{model_name}'"),
        )
    }
}

/// True for a usable price or cost: finite and not negative.
pub fn is_price(v: f64) -> bool {
    v.is_finite() && v >= 0.0
}

/// The highest price a price list may give, in its unit (USD per million tokens, or per
/// thousand requests): ~170 times the dearest published price (o1-pro's output, $600 per
/// million tokens in 2026). A refreshed entry above it is a mistake or an attack (a price
/// of $1e306 made every later call fail to price): it is skipped, with a warning naming it.
pub const MAX_LISTED_PRICE: f64 = 100_000.0;

/// An error unless `v` is a usable price no higher than [`MAX_LISTED_PRICE`].
pub fn listed_price(v: f64) -> Result<f64, String> {
    if !is_price(v) {
        return Err(format!("{v} is not a finite non-negative number"));
    }
    if v > MAX_LISTED_PRICE {
        return Err(format!(
            "{v} is above the highest price a list may give ({MAX_LISTED_PRICE} USD per \
             million tokens or per thousand requests)"
        ));
    }
    Ok(v)
}

/// Checks named prices (absent ones pass); the error names the first bad one as
/// `shown(name)` says.
pub(crate) fn check_prices(
    named: [(&str, Option<f64>); 5],
    shown: impl Fn(&str) -> String,
) -> CoreResult<()> {
    for (name, value) in named {
        if let Some(v) = value
            && !is_price(v)
        {
            return Err(CoreError::value(format!(
                "{} must be a finite non-negative number, got {v}",
                shown(name)
            )));
        }
    }
    Ok(())
}

/// The usage shape and formula of a provider's responses (the catalog says which provider
/// has which: [`catalog::ProviderInfo::formula`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formula {
    /// OpenAI chat completions or Responses API usage; every OpenAI-compatible provider.
    OpenAi,
    /// `anthropic`: messages usage, with the 5m/1h cache-write split and web searches.
    Anthropic,
    /// `google` (`gemini`, `vertex_ai`...): Gemini `usage_metadata` (or REST `usageMetadata`);
    /// Claude on Vertex AI's Anthropic-shaped usage when there is none.
    Gemini,
    /// `aws` (`bedrock`...): Converse usage (`inputTokens`...); an InvokeModel body's
    /// Anthropic- or OpenAI-shaped usage when there is none.
    Bedrock,
    /// `perplexity`: OpenAI chat usage with citation and reasoning tokens billed on top of
    /// the completion, and `num_search_queries` web searches.
    Perplexity,
    /// A provider the catalog does not know: only a reported cost or a custom extractor
    /// can price it.
    None,
}

/// A provider name as every entry point takes it: trimmed and lower-cased; an error
/// naming `provider` when nothing is left.
pub fn provider_name(provider: &str) -> CoreResult<String> {
    normalize_provider(provider).ok_or_else(|| CoreError::empty("provider"))
}

/// A model name as every entry point takes it: trimmed; an error naming `model_name` when
/// nothing is left.
pub fn model_name(model_name: &str) -> CoreResult<&str> {
    normalize_model_name(model_name).ok_or_else(|| CoreError::empty("model_name"))
}

/// A cost source as every entry point takes it: `/` stripped from both ends; an error
/// naming `source` when nothing is left.
pub fn cost_source(source: &str) -> CoreResult<&str> {
    normalize_source(source).ok_or_else(|| CoreError::empty("source"))
}

/// Trims a provider name and lower-cases it; `None` when nothing is left (for lookups,
/// where an empty name simply finds nothing; [`provider_name`] for arguments).
pub fn normalize_provider(provider: &str) -> Option<String> {
    let p = provider.trim().to_lowercase();
    (!p.is_empty()).then_some(p)
}

/// Trims a model name; `None` when nothing is left ([`model_name`] for arguments).
pub fn normalize_model_name(model_name: &str) -> Option<&str> {
    // Most names start and end with a visible ASCII character, which is no whitespace: kept
    // as they are without `trim`'s search (every tracked call names its model, issue #20).
    if let (Some(first), Some(last)) = (model_name.bytes().next(), model_name.bytes().last())
        && first.is_ascii_graphic()
        && last.is_ascii_graphic()
    {
        return Some(model_name);
    }
    let m = model_name.trim();
    (!m.is_empty()).then_some(m)
}

/// Strips `/` from both ends of a cost source; `None` when nothing is left.
fn normalize_source(source: &str) -> Option<&str> {
    let s = source.trim_matches('/');
    (!s.is_empty()).then_some(s)
}

/// Prices registered on a builder, shared by every builder of the run.
#[derive(Debug, Default, Clone)]
pub struct PricingRegistry {
    models: HashMap<String, TokenPricing>,
}

impl PricingRegistry {
    /// Registers (or replaces) the prices of `model_name`.
    pub fn register(&mut self, model_name: &str, pricing: TokenPricing) -> CoreResult<()> {
        let name = self::model_name(model_name)?;
        pricing.validate(name)?;
        self.models.insert(name.to_owned(), pricing);
        Ok(())
    }

    /// The registered prices of `model_name`, if any.
    pub fn get(&self, model_name: &str) -> Option<&TokenPricing> {
        self.models.get(normalize_model_name(model_name)?)
    }

    /// True when nothing is registered (lets the hot path skip the lookup).
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_trimmed_of_unicode_whitespace() {
        assert_eq!(normalize_model_name("gpt-4o"), Some("gpt-4o"));
        assert_eq!(normalize_model_name("x"), Some("x"));
        assert_eq!(normalize_model_name(" gpt-4o\t\n"), Some("gpt-4o"));
        assert_eq!(normalize_model_name("gpt-4o "), Some("gpt-4o"));
        // Non-ASCII ends take the full trim: a no-break space goes, an accent stays.
        assert_eq!(normalize_model_name("\u{a0}gpt\u{3000}"), Some("gpt"));
        assert_eq!(normalize_model_name("modèle-é"), Some("modèle-é"));
        assert_eq!(normalize_model_name(" \u{2003} "), None);
        assert_eq!(normalize_model_name(""), None);
        assert!(model_name("\t").is_err());
    }
}
