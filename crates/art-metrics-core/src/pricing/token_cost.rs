//! A response's cost from its token counts: per-call overrides over registered prices over
//! the catalog's, applied by the provider's formula. (Finding a model by name is
//! `catalog::resolve`; the whole order, reported cost and extractor first, is
//! `order::response_cost`.)

use super::formula::{Units, mismatch_error, request_context};
use super::prices::{Applied, Model, Price, PriceKey, PriceSet, RequestTime};
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
    CoreError::Unpriced(format!(
        "No pricing configured for model '{model}'. Register it with \
         MetricsBuilder.register_model_pricing(), pass prompt_price_per_million and \
         completion_price_per_million, or refresh the catalog with \
         art_metrics.pricing.refresh_catalog()."
    ))
}

/// One call's token-price inputs beyond the response: who priced it and how it was made.
#[derive(Debug, Clone, Copy)]
pub struct TokenCall<'a> {
    /// The provider as given (normalized), for messages.
    pub provider: &'a str,
    /// The usage shape of the provider's responses.
    pub formula: Formula,
    pub model: &'a str,
    pub overrides: &'a Overrides,
    /// `batch=True`: a batch job whose responses do not say so.
    pub batch: bool,
}

fn flat(v: Option<f64>) -> Option<Price> {
    v.map(Price::Flat)
}

/// Prices a response from its token usage.
///
/// `registered` is the builder's price for `model`; `catalog` the catalog's model, or the
/// error naming the nearest names. Errors come in the reference's order: no price at all,
/// then a provider without a formula, then a usage without the provider's fields. Per-call
/// overrides replace the keys they name (`cached_prompt` is the cached-input price of OpenAI-
/// and Gemini-shaped usage, `cache_read` Anthropic's).
pub fn token_cost(
    call: TokenCall<'_>,
    registered: Option<TokenPricing>,
    catalog: CoreResult<&Model>,
    fields: &ResponseFields,
) -> CoreResult<f64> {
    let o = call.overrides;
    let catalog = match (registered, catalog, o.complete()) {
        (None, Err(e), None) => return Err(e),
        (_, c, _) => c.ok(),
    };
    if call.formula == Formula::None {
        return Err(no_extractor_error(call.provider));
    }
    let mut units = Units::default();
    if !Units::read_into(call.formula, fields, &mut units)? {
        return Err(mismatch_error(call.provider));
    }
    // Bedrock's cache reads are apart from its input, as Anthropic's are.
    let anthropic = matches!(call.formula, Formula::Anthropic | Formula::Bedrock);
    let cached_key = |p: &TokenPricing| {
        if anthropic {
            p.cache_read_per_million
        } else {
            p.cached_prompt_per_million
        }
    };
    let own: PriceSet;
    let ctx = request_context(fields, call.batch);
    let mut applied = match (registered, catalog) {
        (Some(r), _) => {
            let mut s = PriceSet::default();
            s.0[PriceKey::Input as usize] = flat(Some(r.prompt_per_million));
            s.0[PriceKey::Output as usize] = flat(Some(r.completion_per_million));
            s.0[PriceKey::CacheRead as usize] = flat(cached_key(&r));
            s.0[PriceKey::CacheWrite as usize] = flat(r.cache_creation_per_million);
            own = s;
            Applied::Set(&own)
        }
        (None, Some(m)) => {
            // Most models price every moment alike: no clock read then (issue #20).
            let at = if m.needs_time(&ctx) {
                fields
                    .timestamp()
                    .map_or_else(RequestTime::now, RequestTime)
            } else {
                RequestTime(0.0)
            };
            m.applied(at, &ctx)
        }
        (None, None) => Applied::none(),
    };
    // Per-call prices, when any was given (most calls give none: nothing built then).
    let given = (*o != Overrides::default()).then(|| {
        [
            (PriceKey::Input, flat(o.prompt)),
            (PriceKey::Output, flat(o.completion)),
            (
                PriceKey::CacheRead,
                flat(if anthropic {
                    o.cache_read
                } else {
                    o.cached_prompt
                }),
            ),
            (PriceKey::CacheWrite, flat(o.cache_creation)),
        ]
    });
    for (k, p) in given.iter().flatten() {
        if let Some(p) = p {
            applied.replace(*k, p);
        }
    }
    let cost = units.cost(&applied);
    if !cost.is_finite() {
        return Err(not_finite_error(call.model, cost));
    }
    Ok(cost)
}

#[cold]
#[inline(never)]
fn no_extractor_error(provider: &str) -> CoreError {
    CoreError::Pricing(format!(
        "No cost extractor registered for provider '{provider}'."
    ))
}

/// Finite counts and prices can still overflow: say why rather than "inf".
#[cold]
#[inline(never)]
fn not_finite_error(model: &str, cost: f64) -> CoreError {
    CoreError::Pricing(format!(
        "The cost of this response under model '{model}' is not a finite number ({cost}): \
         its token counts are too large to price"
    ))
}

#[cfg(test)]
#[path = "token_cost_tests.rs"]
mod tests;
