//! The litellm reader's rules.

use super::*;
use crate::pricing::prices::{RequestContext, RequestTime};
use serde_json::json;

fn catalog() -> PriceCatalog {
    PriceCatalog::builtin().unwrap()
}

#[test]
fn per_token_prices_become_exact_per_million_prices() {
    assert_eq!(per_million(2.5e-6), 2.5);
    assert_eq!(per_million(1.1e-6), 1.1);
    assert_eq!(per_million(3.75e-7), 0.375);
    assert_eq!(per_million(0.0), 0.0);
}

#[test]
fn entries_providers_modes_names_tiers_and_variants() {
    let map = json!({
        "gpt-x": {"litellm_provider": "openai", "mode": "responses",
            "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
            "input_cost_per_token_flex": 5e-7, "input_cost_per_token_batches": 4e-7},
        "gemini/gem-x": {"litellm_provider": "gemini", "mode": "chat",
            "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
            "input_cost_per_token_above_200k_tokens": 2e-6},
        "gem-x": {"litellm_provider": "gemini", "mode": "chat",
            "input_cost_per_token": 9e-6, "output_cost_per_token": 9e-6},
        "embed-x": {"litellm_provider": "openai", "mode": "embedding", "input_cost_per_token": 1e-6},
        "no-output": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-6},
        "sagemaker/x": {"litellm_provider": "sagemaker", "mode": "chat",
            "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6},
        "bad-bool": {"litellm_provider": "openai", "mode": "chat",
            "input_cost_per_token": true, "output_cost_per_token": 1e-6},
        "bad-negative": {"litellm_provider": "anthropic", "mode": "chat",
            "input_cost_per_token": -1e-6, "output_cost_per_token": 1e-6},
        "bad-list": {"litellm_provider": "openai", "mode": "chat",
            "input_cost_per_token": [1], "output_cost_per_token": 1e-6},
        "null-price": {"litellm_provider": "openai", "mode": "chat",
            "input_cost_per_token": null, "output_cost_per_token": 1e-6},
        "bad-huge": {"litellm_provider": "openai", "mode": "chat",
            "input_cost_per_token": 1e300, "output_cost_per_token": 1e-6}
    });
    assert!(is_litellm(&map));
    let c = catalog();
    let parsed = parse(&map, &c);
    let ids: Vec<&str> = parsed.models.iter().map(|(_, m)| m.id.as_str()).collect();
    assert_eq!(ids, vec!["gpt-x", "gem-x"]);
    assert_eq!(parsed.skipped.len(), 4, "{:?}", parsed.skipped);
    assert!(
        parsed
            .skipped
            .iter()
            .any(|s| s.starts_with("bad-bool: input_cost_per_token"))
    );
    // Issue #21 case 4: a price above the sane bound ($1e306 per million) is skipped.
    assert!(
        parsed
            .skipped
            .iter()
            .any(|s| s.starts_with("bad-huge: input_cost_per_token")
                && s.contains("above the highest price"))
    );
    let now = RequestTime::now();
    let gpt = &parsed.models[0].1;
    let flex = RequestContext {
        service_tier: Some("flex"),
        ..RequestContext::default()
    };
    assert_eq!(gpt.applied(now, &flex).price(PriceKey::Input, 0.0), 0.5);
    let batch = RequestContext {
        batch: true,
        ..RequestContext::default()
    };
    assert_eq!(gpt.applied(now, &batch).price(PriceKey::Input, 0.0), 0.4);
    // The prefixed gemini key wins over the bare one, with its tier.
    let gem = &parsed.models[1].1;
    let std = RequestContext::default();
    assert_eq!(gem.applied(now, &std).price(PriceKey::Input, 0.0), 1.0);
    assert_eq!(
        gem.applied(now, &std).price(PriceKey::Input, 250_000.0),
        2.0
    );
}

#[test]
fn not_a_litellm_map() {
    assert!(!is_litellm(&json!([1, 2])));
    assert!(!is_litellm(&json!({"a": 1})));
}
