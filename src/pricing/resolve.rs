//! The token-price path of the resolution order: per-call overrides over registered prices
//! over the catalog, then the provider's formula.
//!
//! The full order (reported cost, then a custom extractor, then this) is driven by the
//! bindings, because an extractor is a Python callable.

use super::catalog::ModelPrices;
use super::formula::{TokenUsage, mismatch_error};
use super::usage::ResponseFields;
use super::{Formula, TokenPricing, check_prices};
use crate::error::{CoreError, CoreResult};

/// Per-call prices, USD per million tokens; each one given replaces the resolved price.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Overrides {
    pub prompt: Option<f64>,
    pub completion: Option<f64>,
    pub cached_prompt: Option<f64>,
    pub cache_creation: Option<f64>,
    pub cache_read: Option<f64>,
}

impl Overrides {
    /// Checks that every override is finite and non-negative, naming the argument.
    pub fn validate(&self) -> CoreResult<()> {
        check_prices(
            [
                ("prompt_price_per_million", self.prompt),
                ("completion_price_per_million", self.completion),
                ("cached_prompt_price_per_million", self.cached_prompt),
                ("cache_creation_price_per_million", self.cache_creation),
                ("cache_read_price_per_million", self.cache_read),
            ],
            str::to_owned,
        )
    }

    /// `base` with every given override in place.
    pub fn apply(&self, base: TokenPricing) -> TokenPricing {
        TokenPricing {
            prompt_per_million: self.prompt.unwrap_or(base.prompt_per_million),
            completion_per_million: self.completion.unwrap_or(base.completion_per_million),
            cached_prompt_per_million: self.cached_prompt.or(base.cached_prompt_per_million),
            cache_creation_per_million: self.cache_creation.or(base.cache_creation_per_million),
            cache_read_per_million: self.cache_read.or(base.cache_read_per_million),
        }
    }

    /// Complete prices when both the prompt and completion prices are given.
    pub fn complete(&self) -> Option<TokenPricing> {
        Some(TokenPricing {
            prompt_per_million: self.prompt?,
            completion_per_million: self.completion?,
            cached_prompt_per_million: self.cached_prompt,
            cache_creation_per_million: self.cache_creation,
            cache_read_per_million: self.cache_read,
        })
    }
}

/// The error for a model nobody has a price for; it says how to give one.
pub fn no_pricing_error(model: &str) -> CoreError {
    CoreError::Pricing(format!(
        "No pricing configured for model '{model}'. Register it with \
         MetricsBuilder.register_model_pricing(), pass prompt_price_per_million and \
         completion_price_per_million, or refresh the catalog with \
         art_metrics.pricing.refresh_catalog()."
    ))
}

/// Prices a response from its token usage.
///
/// `registered` is the builder's price for `model`, `catalog` the catalog's. Errors come in
/// the reference's order: no price at all, then a provider without a formula, then a usage
/// without the provider's fields.
pub fn token_cost(
    provider: &str,
    model: &str,
    registered: Option<TokenPricing>,
    catalog: Option<&ModelPrices>,
    overrides: &Overrides,
    fields: &ResponseFields,
) -> CoreResult<f64> {
    if registered.is_none() && catalog.is_none() && overrides.complete().is_none() {
        return Err(no_pricing_error(model));
    }
    let formula = Formula::of(provider);
    if formula == Formula::None {
        return Err(CoreError::Pricing(format!(
            "No cost extractor registered for provider '{provider}'."
        )));
    }
    let usage = TokenUsage::read(formula, fields)?.ok_or_else(|| mismatch_error(provider))?;
    let base = match (registered, catalog) {
        (Some(r), _) => r,
        (None, Some(c)) => c.pricing_for(usage.tier_tokens()),
        (None, None) => TokenPricing {
            prompt_per_million: 0.0,
            completion_per_million: 0.0,
            cached_prompt_per_million: None,
            cache_creation_per_million: None,
            cache_read_per_million: None,
        },
    };
    let cost = usage.cost(&overrides.apply(base));
    if !cost.is_finite() {
        // Finite counts and prices can still overflow: say why rather than "inf".
        return Err(CoreError::Pricing(format!(
            "The cost of this response under model '{model}' is not a finite number ({cost}): \
             its token counts are too large to price"
        )));
    }
    Ok(cost)
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
