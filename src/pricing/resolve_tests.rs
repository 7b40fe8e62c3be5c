//! Resolution and catalog rules.

use super::*;
use crate::pricing::catalog::{PriceCatalog, PriceOrigin};
use crate::pricing::usage::Field;
use serde_json::{Value, json};

fn fields(formula: Formula, v: Value) -> ResponseFields {
    ResponseFields::from_json(&v, formula)
}

fn openai_usage(prompt: u64, cached: u64, completion: u64) -> Value {
    json!({"usage": {"prompt_tokens": prompt, "completion_tokens": completion,
        "prompt_tokens_details": {"cached_tokens": cached}}})
}

fn catalog_cost(provider: &str, model: &str, v: Value) -> CoreResult<f64> {
    let cat = PriceCatalog::builtin().unwrap();
    let formula = Formula::of(provider);
    let prices = cat.resolve(formula, model);
    token_cost(
        provider,
        model,
        None,
        prices.as_deref(),
        &Overrides::default(),
        &fields(formula, v),
    )
}

#[test]
fn builtin_catalog_parses_and_counts() {
    let cat = PriceCatalog::builtin().unwrap();
    assert_eq!(cat.origin, PriceOrigin::Builtin);
    assert!(cat.source_version.starts_with("litellm "));
    assert_eq!(cat.name_count(), 346);
    let counts: std::collections::HashMap<_, _> = cat.counts.iter().cloned().collect();
    assert_eq!(counts["openai"], 104);
    assert_eq!(counts["anthropic"], 25);
}

#[test]
fn names_resolve_like_the_reference() {
    let cat = PriceCatalog::builtin().unwrap();
    let r = |m: &str| cat.resolve(Formula::OpenAi, m).map(|p| p.key.clone());
    assert_eq!(r("gpt-4o").as_deref(), Some("gpt-4o"));
    assert_eq!(r("openai/gpt-4o").as_deref(), Some("gpt-4o"));
    assert_eq!(r("GPT-4o").as_deref(), Some("gpt-4o"));
    assert_eq!(r("openai/GPT-4O").as_deref(), Some("gpt-4o"));
    assert_eq!(r("OPENAI/gpt-4o"), None);
    assert_eq!(r("OpenAI/gpt-4.1"), None);
    assert_eq!(r("anthropic/gpt-4o"), None);
    assert_eq!(r("container"), None);
    assert_eq!(r("openai/container").as_deref(), Some("openai/container"));
    // ART's own entries win, exactly and case-sensitively.
    let p = cat.resolve(Formula::OpenAi, "openai/gpt-4.1").unwrap();
    assert_eq!((p.table, p.base.prompt_per_million), ("art_builtin", 2.0));
    assert_eq!(
        cat.resolve(Formula::OpenAi, "openai/GPT-4.1")
            .unwrap()
            .table,
        "litellm"
    );
    assert_eq!(
        cat.resolve(Formula::OpenAi, "Qwen/Qwen3-8B").unwrap().table,
        "art_tinker"
    );
}

#[test]
fn google_bare_names_try_the_gemini_prefix() {
    let cat = PriceCatalog::builtin().unwrap();
    assert!(cat.resolve(Formula::OpenAi, "gemini-1.5-pro").is_none());
    let p = cat.resolve(Formula::Gemini, "gemini-1.5-pro").unwrap();
    assert_eq!(p.key, "gemini/gemini-1.5-pro");
}

#[test]
fn per_million_prices_carry_the_references_float_noise() {
    // 4e-7 USD/token * 1e6 is 0.39999999999999997 in f64, as in the reference.
    let cat = PriceCatalog::builtin().unwrap();
    let p = cat.resolve(Formula::OpenAi, "gpt-4.1-mini").unwrap();
    assert_eq!(p.base.prompt_per_million, 4e-7 * 1e6);
    assert_ne!(p.base.prompt_per_million, 0.4);
}

#[test]
fn catalog_costs_match_reference_values() {
    // Values printed by openpipe-art 0.5.18 (litellm 1.82.0).
    let gpt4o = catalog_cost("openai", "gpt-4o", openai_usage(1000, 200, 100)).unwrap();
    assert_eq!(gpt4o, 0.0032500000000000003);
    let q = catalog_cost("openai", "Qwen/Qwen3-8B", openai_usage(1000, 200, 100)).unwrap();
    assert_eq!(q, 0.00016999999999999999);
}

#[test]
fn errors_in_the_reference_order() {
    let unknown = catalog_cost("google", "x", openai_usage(1, 0, 1)).unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("No pricing configured for model 'x'")
    );
    assert!(unknown.to_string().contains("register_model_pricing"));
    let other = catalog_cost("xyz", "gpt-4o", openai_usage(1, 0, 1)).unwrap_err();
    assert_eq!(
        other.to_string(),
        "No cost extractor registered for provider 'xyz'."
    );
    let mismatch = catalog_cost("anthropic", "gpt-4o", openai_usage(1, 0, 1)).unwrap_err();
    assert!(
        mismatch
            .to_string()
            .starts_with("Response usage does not match provider 'anthropic'")
    );
    let bad = catalog_cost(
        "openai",
        "gpt-4o",
        json!({"usage": {"prompt_tokens": true}}),
    );
    assert!(matches!(bad, Err(CoreError::InvalidValue(_))));
}

#[test]
fn overrides_registered_and_catalog_in_order() {
    let cat = PriceCatalog::builtin().unwrap();
    let f = fields(Formula::OpenAi, openai_usage(1000, 200, 0));
    let catalog = cat.resolve(Formula::OpenAi, "gpt-4o");
    let registered = TokenPricing {
        prompt_per_million: 1.0,
        completion_per_million: 2.0,
        cached_prompt_per_million: None,
        cache_creation_per_million: None,
        cache_read_per_million: None,
    };
    let none = Overrides::default();
    let cost =
        |reg, ov: &Overrides| token_cost("openai", "gpt-4o", reg, catalog.as_deref(), ov, &f);
    assert_eq!(cost(Some(registered), &none).unwrap(), 1000.0 * 1.0 / 1e6);
    let zero_cached = Overrides {
        cached_prompt: Some(0.0),
        ..none
    };
    assert_eq!(cost(Some(registered), &zero_cached).unwrap(), 800.0 / 1e6);
    assert_eq!(cost(None, &zero_cached).unwrap(), 800.0 * 2.5 / 1e6);
    // Complete overrides price a model nobody else knows.
    let full = Overrides {
        prompt: Some(1.0),
        completion: Some(1.0),
        ..none
    };
    assert_eq!(
        token_cost("openai", "nope", None, None, &full, &f).unwrap(),
        1000.0 / 1e6
    );
    assert!(
        Overrides {
            prompt: Some(-1.0),
            ..none
        }
        .validate()
        .is_err()
    );
    assert!(
        Overrides {
            cache_read: Some(f64::NAN),
            ..none
        }
        .validate()
        .is_err()
    );
}

#[test]
fn long_context_tiers_apply_above_the_threshold() {
    let cat = PriceCatalog::builtin().unwrap();
    let opus = cat.resolve(Formula::Anthropic, "claude-opus-4-6").unwrap();
    assert_eq!(opus.tiers[0].above_tokens, 200_000.0);
    let at = |input: u64| {
        let v = json!({"usage": {"input_tokens": input, "output_tokens": 0}});
        token_cost(
            "anthropic",
            "claude-opus-4-6",
            None,
            Some(&opus),
            &Overrides::default(),
            &fields(Formula::Anthropic, v),
        )
        .unwrap()
    };
    assert_eq!(at(200_000), 200_000.0 * opus.base.prompt_per_million / 1e6);
    assert_eq!(at(300_000), 300_000.0 * opus.tiers[0].prompt.unwrap() / 1e6);
    // Cached input counts toward the threshold.
    let v = json!({"usage": {"input_tokens": 150_000, "cache_read_input_tokens": 100_000}});
    let c = token_cost(
        "anthropic",
        "claude-opus-4-6",
        None,
        Some(&opus),
        &Overrides::default(),
        &fields(Formula::Anthropic, v),
    )
    .unwrap();
    let t = opus.tiers[0];
    assert_eq!(
        c,
        150_000.0 * t.prompt.unwrap() / 1e6 + 100_000.0 * t.cache_read.unwrap() / 1e6
    );
}

fn litellm_map() -> Value {
    json!({
        "sample_spec": {"input_cost_per_token": 0},
        "gpt-x": {"litellm_provider": "openai", "mode": "chat",
            "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
            "cache_read_input_token_cost": 5e-7},
        "text-embedding-x": {"litellm_provider": "openai", "mode": "embedding",
            "input_cost_per_token": 1e-6},
        "claude-x": {"litellm_provider": "anthropic", "mode": "chat",
            "input_cost_per_token": 3e-6, "output_cost_per_token": 1.5e-5,
            "input_cost_per_token_above_200k_tokens": 6e-6},
        "gemini/gem-x": {"litellm_provider": "gemini", "mode": "chat",
            "input_cost_per_token": 1e-7, "output_cost_per_token": 4e-7},
        "azure/gpt-x": {"litellm_provider": "azure", "mode": "chat",
            "input_cost_per_token": 9e-6, "output_cost_per_token": 9e-6}
    })
}

#[test]
fn litellm_map_becomes_a_catalog() {
    let base = PriceCatalog::builtin().unwrap();
    let cat =
        PriceCatalog::from_litellm_map(&litellm_map(), &base, "s".into(), PriceOrigin::Builtin)
            .unwrap();
    let r = |f, m: &str| cat.resolve(f, m).map(|p| p.key.clone());
    assert_eq!(r(Formula::OpenAi, "openai/gpt-x").as_deref(), Some("gpt-x"));
    assert_eq!(r(Formula::OpenAi, "GPT-X").as_deref(), Some("gpt-x"));
    assert_eq!(r(Formula::OpenAi, "text-embedding-x"), None);
    assert_eq!(r(Formula::OpenAi, "azure/gpt-x"), None);
    assert_eq!(
        r(Formula::OpenAi, "gpt-4o"),
        None,
        "the refreshed map replaces litellm names"
    );
    assert_eq!(r(Formula::Gemini, "gem-x").as_deref(), Some("gemini/gem-x"));
    assert_eq!(
        cat.resolve(Formula::OpenAi, "openai/gpt-4.1")
            .unwrap()
            .table,
        "art_builtin"
    );
    let claude = cat.resolve(Formula::Anthropic, "claude-x").unwrap();
    assert_eq!(claude.tiers.len(), 1);
    assert_eq!(claude.base.prompt_per_million, 3e-6 * 1e6);
}

#[test]
fn bad_litellm_maps_are_refused_with_reasons() {
    let base = PriceCatalog::builtin().unwrap();
    let refuse = |v: Value| {
        PriceCatalog::from_litellm_map(&v, &base, String::new(), PriceOrigin::Builtin)
            .unwrap_err()
            .to_string()
    };
    assert!(refuse(json!([1, 2])).contains("JSON object"));
    assert!(refuse(json!({"a": 1})).contains("no openai chat model"));
    let mut negative = litellm_map();
    negative["gpt-x"]["output_cost_per_token"] = json!(-1);
    let msg = refuse(negative);
    assert!(msg.contains("'gpt-x'.output_cost_per_token"), "{msg}");
}

#[test]
fn field_paths_name_their_location() {
    assert_eq!(
        Field::PromptCachedTokens.path(),
        "usage.prompt_tokens_details.cached_tokens"
    );
}
