//! The token-price path: overrides over registered prices over the catalog, errors in the
//! reference's order, dated prices, tiers and variants through the built-in catalog.

use super::*;
use crate::pricing::catalog::PriceCatalog;
use crate::pricing::usage::Field;
use serde_json::{Value, json};

const NOV_2026: u64 = 1_795_176_000; // 2026-11-20T12:00:00Z
const MAY_2025: u64 = 1_746_057_600; // 2025-05-01T00:00:00Z

fn openai(prompt: u64, cached: u64, completion: u64, created: u64) -> Value {
    json!({"created": created, "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
        "prompt_tokens_details": {"cached_tokens": cached}}})
}

fn cost_with(provider: &str, model: &str, v: Value, o: &Overrides, batch: bool) -> CoreResult<f64> {
    let cat = PriceCatalog::builtin().unwrap();
    let formula = cat.formula(provider);
    let found = cat.resolve(provider, model).map(|f| f.model);
    let call = TokenCall {
        provider,
        formula,
        model,
        overrides: o,
        batch,
    };
    token_cost(
        call,
        None,
        found.as_ref().map(|m| &**m).map_err(Clone::clone),
        &ResponseFields::from_json(&v, formula),
    )
}

fn cost(provider: &str, model: &str, v: Value) -> CoreResult<f64> {
    cost_with(provider, model, v, &Overrides::default(), false)
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} != {b}");
}

#[test]
fn catalog_prices_by_the_response_date() {
    // gpt-4o: $2.50 / $1.25 cached / $10.
    close(
        cost("openai", "gpt-4o", openai(1_000, 200, 100, NOV_2026)).unwrap(),
        (800.0 * 2.5 + 200.0 * 1.25 + 100.0 * 10.0) / 1e6,
    );
    // o3 before its 2025-06-10 cut: $10 / $40; after: $2 / $8.
    close(
        cost("openai", "o3", openai(1_000, 0, 500, MAY_2025)).unwrap(),
        (10_000.0 + 20_000.0) / 1e6,
    );
    close(
        cost("openai", "o3", openai(1_000, 0, 500, NOV_2026)).unwrap(),
        (2_000.0 + 4_000.0) / 1e6,
    );
}

#[test]
fn service_tiers_and_batch() {
    let flex = json!({"created": NOV_2026, "service_tier": "flex",
        "usage": {"prompt_tokens": 1_000_000, "completion_tokens": 0}});
    close(cost("openai", "gpt-5", flex).unwrap(), 0.625);
    let o = Overrides::default();
    close(
        cost_with(
            "openai",
            "gpt-5",
            openai(1_000_000, 0, 0, NOV_2026),
            &o,
            true,
        )
        .unwrap(),
        0.625,
    );
    let default = json!({"created": NOV_2026, "service_tier": "default",
        "usage": {"prompt_tokens": 1_000_000, "completion_tokens": 0}});
    close(cost("openai", "gpt-5", default).unwrap(), 1.25);
}

#[test]
fn errors_in_the_reference_order() {
    let u = openai(10, 0, 1, NOV_2026);
    let err = cost("openai", "no-such-model", u.clone()).unwrap_err();
    assert!(matches!(err, CoreError::Unpriced(_)), "{err:?}");
    assert!(err.to_string().contains("'no-such-model'"), "{err}");
    let err = cost("xyz", "gpt-4o", u.clone()).unwrap_err();
    assert!(
        err.to_string()
            .contains("No cost extractor registered for provider 'xyz'"),
        "{err}"
    );
    let err = cost("anthropic", "gpt-4o", u).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not match provider 'anthropic'"),
        "{err}"
    );
    // Complete overrides price an unknown model.
    let o = Overrides {
        prompt: Some(1.0),
        completion: Some(2.0),
        ..Overrides::default()
    };
    close(
        cost_with(
            "openai",
            "no-such-model",
            openai(1_000_000, 0, 1_000_000, NOV_2026),
            &o,
            false,
        )
        .unwrap(),
        3.0,
    );
}

#[test]
fn overrides_and_registered_prices() {
    let o = Overrides {
        prompt: Some(1.0),
        ..Overrides::default()
    };
    // The override replaces the input price; the cached price stays the catalog's.
    close(
        cost_with(
            "openai",
            "gpt-4o",
            openai(1_000_000, 500_000, 0, NOV_2026),
            &o,
            false,
        )
        .unwrap(),
        0.5 + 0.625,
    );
    let registered = TokenPricing {
        prompt_per_million: 1.0,
        completion_per_million: 2.0,
        cached_prompt_per_million: None,
        cache_creation_per_million: Some(1.5),
        cache_read_per_million: Some(0.1),
    };
    let call = TokenCall {
        provider: "anthropic",
        formula: Formula::Anthropic,
        model: "mine",
        overrides: &Overrides::default(),
        batch: false,
    };
    let v = json!({"usage": {"input_tokens": 1_000_000, "output_tokens": 1_000_000,
        "cache_creation_input_tokens": 1_000_000, "cache_read_input_tokens": 1_000_000}});
    let f = ResponseFields::from_json(&v, Formula::Anthropic);
    let got = token_cost(
        call,
        Some(registered),
        Err(CoreError::Unpriced(String::new())),
        &f,
    )
    .unwrap();
    close(got, 1.0 + 2.0 + 1.5 + 0.1);
}

#[test]
fn long_context_tiers_use_the_whole_input() {
    // claude-sonnet-4-5 above 200k total input: $6 in, $22.50 out.
    let v = json!({"usage": {"input_tokens": 150_000, "output_tokens": 1_000, "cache_read_input_tokens": 60_000}});
    close(
        cost("anthropic", "claude-sonnet-4-5", v).unwrap(),
        (150_000.0 * 6.0 + 60_000.0 * 0.6 + 1_000.0 * 22.5) / 1e6,
    );
}

#[test]
fn field_paths_name_their_location() {
    assert_eq!(
        Field::PromptCachedTokens.path(),
        "usage.prompt_tokens_details.cached_tokens"
    );
    let err = cost(
        "openai",
        "gpt-4o",
        json!({"usage": {"prompt_tokens": true}}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("usage.prompt_tokens"), "{err}");
}

#[test]
fn token_counts_too_large_to_price_are_refused() {
    let v = json!({"usage": {"prompt_tokens": 1e308, "completion_tokens": 1e308}});
    let err = cost("openai", "gpt-4o", v).unwrap_err();
    assert!(err.to_string().contains("not a finite number"), "{err}");
}

#[test]
fn gemini_is_priced_by_its_create_time() {
    // gemini-4-argon: $2 / $10 until 2026-11-30, $4 / $20 from 2026-12-01 (genai-prices 0.2.3).
    let body = |at: &str| {
        json!({"createTime": at, "usageMetadata": {"promptTokenCount": 10_000,
               "candidatesTokenCount": 1_000}})
    };
    let at = |t: &str| cost("google", "gemini-4-argon", body(t)).unwrap();
    close(at("2026-11-30T23:59:59.999Z"), (20_000.0 + 10_000.0) / 1e6);
    close(at("2026-12-01T00:00:00Z"), (40_000.0 + 20_000.0) / 1e6);
    close(at("2026-11-30T19:00:00-05:00"), (40_000.0 + 20_000.0) / 1e6);
}
