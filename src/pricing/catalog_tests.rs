//! The catalog's own rules: the embedded format, name resolution, tiers.

use super::*;
use serde_json::json;

fn chat(provider: &str, input: f64, output: f64) -> Value {
    json!({"litellm_provider": provider, "mode": "chat",
        "input_cost_per_token": input, "output_cost_per_token": output})
}

/// An embedded catalog with one model per table and `aliases`.
fn embedded(aliases: Value) -> String {
    json!({
        "schema_version": EMBEDDED_SCHEMA_VERSION,
        "source": "test", "source_version": "1", "generated_at": "now", "sha256": "abc",
        "art_builtin": {"openai/gpt-x": {"prompt": 9.0, "completion": 9.0}},
        "art_tinker": {"models": {"tinker/m": {"prompt": 0.5, "completion": 0.25},
                                  "gpt-x": {"prompt": 7.0, "completion": 7.0}}},
        "aliases": aliases,
        "litellm": {
            "gpt-x": chat("openai", 1e-6, 2e-6),
            "claude-x": chat("anthropic", 3e-6, 1.5e-5),
            "gemini/gem": chat("gemini", 1e-7, 4e-7),
        },
    })
    .to_string()
}

fn catalog() -> PriceCatalog {
    PriceCatalog::from_embedded(&embedded(json!({"gem": "gemini/gem"}))).unwrap()
}

fn key(c: &PriceCatalog, formula: Formula, name: &str) -> Option<(String, &'static str)> {
    c.resolve(formula, name).map(|p| (p.key.clone(), p.table))
}

#[test]
fn the_embedded_format_reads_provenance_and_counts() {
    let c = catalog();
    assert_eq!(
        (
            c.source.as_str(),
            c.source_version.as_str(),
            c.sha256.as_str()
        ),
        ("test", "1", "abc")
    );
    assert_eq!(c.origin, PriceOrigin::Builtin);
    // gpt-x, openai/gpt-x, claude-x, anthropic/claude-x, gemini/gem, and the alias gem.
    assert_eq!(c.name_count(), 6);
    assert_eq!(
        c.counts,
        [
            ("anthropic".to_owned(), 1),
            ("google".to_owned(), 1),
            ("openai".to_owned(), 1)
        ]
    );
}

#[test]
fn art_entries_first_then_litellm_names_then_tinker() {
    let c = catalog();
    let openai = Formula::OpenAi;
    assert_eq!(
        key(&c, openai, "openai/gpt-x"),
        Some(("openai/gpt-x".into(), "art_builtin"))
    );
    assert_eq!(key(&c, openai, "gpt-x"), Some(("gpt-x".into(), "litellm")));
    assert_eq!(
        key(&c, openai, "tinker/m"),
        Some(("tinker/m".into(), "art_tinker"))
    );
    assert_eq!(
        c.resolve(openai, "tinker/m")
            .unwrap()
            .base
            .prompt_per_million,
        0.5
    );
    assert_eq!(key(&c, openai, "nothing"), None);
}

#[test]
fn litellm_names_match_case_insensitively_after_a_case_sensitive_prefix() {
    let c = catalog();
    let f = Formula::Anthropic;
    assert!(c.resolve(f, "CLAUDE-X").is_some());
    assert!(c.resolve(f, "anthropic/Claude-X").is_some());
    assert!(c.resolve(f, "ANTHROPIC/claude-x").is_none());
    assert!(c.resolve(f, "openai/claude-x").is_none());
}

#[test]
fn aliases_resolve_and_gemini_tries_its_prefix() {
    let c = catalog();
    assert_eq!(
        key(&c, Formula::OpenAi, "gem"),
        Some(("gemini/gem".into(), "litellm"))
    );
    let without = PriceCatalog::from_embedded(&embedded(json!({}))).unwrap();
    assert_eq!(key(&without, Formula::OpenAi, "gem"), None);
    assert_eq!(
        key(&without, Formula::Gemini, "gem"),
        Some(("gemini/gem".into(), "litellm"))
    );
}

#[test]
fn a_bad_embedded_catalog_is_corrupt_and_says_why() {
    let mut wrong_version: Value = serde_json::from_str(&embedded(json!({}))).unwrap();
    wrong_version["schema_version"] = json!(1);
    let mut negative: Value = serde_json::from_str(&embedded(json!({}))).unwrap();
    negative["litellm"]["gpt-x"]["input_cost_per_token"] = json!(-1.0);
    let cases = [
        (embedded(json!({"x": "no-such-key"})), "no-such-key"),
        (embedded(json!({"gpt-x": "claude-x"})), "already a name"),
        (wrong_version.to_string(), "schema_version 1"),
        (negative.to_string(), "'gpt-x'.input_cost_per_token"),
        ("[]".to_owned(), "built-in price catalog"),
    ];
    for (json, why) in cases {
        let err = PriceCatalog::from_embedded(&json).unwrap_err();
        assert!(matches!(err, CoreError::Corrupt(_)), "{err:?}");
        assert!(err.to_string().contains(why), "{why}: {err}");
    }
}

#[test]
fn a_refreshed_map_keeps_arts_tables_and_records_its_origin() {
    let base = catalog();
    let map =
        json!({"gpt-z": chat("openai", 1e-6, 1e-6), "claude-z": chat("anthropic", 1e-6, 1e-6)});
    let origin = PriceOrigin::Cache {
        path: "/p".into(),
        url: "http://u".into(),
        fetched_at: "t".into(),
    };
    let c = PriceCatalog::from_litellm_map(&map, &base, "sha".into(), origin).unwrap();
    assert_eq!(c.source_version, "downloaded from http://u");
    assert_eq!(c.generated_at, "t");
    assert!(c.resolve(Formula::OpenAi, "gpt-z").is_some());
    // The old map's gpt-x is gone; ART's Tinker table still prices that name.
    assert_eq!(
        key(&c, Formula::OpenAi, "gpt-x"),
        Some(("gpt-x".into(), "art_tinker"))
    );
    assert_eq!(
        key(&c, Formula::OpenAi, "tinker/m"),
        Some(("tinker/m".into(), "art_tinker"))
    );
    assert_eq!(
        key(&c, Formula::OpenAi, "openai/gpt-x"),
        Some(("openai/gpt-x".into(), "art_builtin"))
    );
}

#[test]
fn the_highest_tier_exceeded_prices_a_call() {
    let base = TokenPricing {
        prompt_per_million: 1.0,
        completion_per_million: 2.0,
        cached_prompt_per_million: Some(0.1),
        cache_creation_per_million: None,
        cache_read_per_million: Some(0.1),
    };
    let tier = |above_tokens: f64, prompt: f64| Tier {
        above_tokens,
        prompt: Some(prompt),
        completion: None,
        cache_read: Some(0.5),
        cache_creation: None,
    };
    let m = ModelPrices {
        key: "m".into(),
        table: "litellm",
        base,
        cache_creation_1h_per_million: None,
        tiers: vec![tier(128_000.0, 3.0), tier(200_000.0, 4.0)],
    };
    assert_eq!(m.pricing_for(128_000.0), base);
    let above = m.pricing_for(128_001.0);
    assert_eq!(above.prompt_per_million, 3.0);
    assert_eq!(above.completion_per_million, 2.0);
    assert_eq!(above.cached_prompt_per_million, Some(0.5));
    assert_eq!(m.pricing_for(1e9).prompt_per_million, 4.0);
}

#[test]
fn the_builtin_catalog_parses() {
    let c = PriceCatalog::builtin().unwrap();
    assert!(c.source_version.starts_with("litellm "));
    assert!(c.resolve(Formula::OpenAi, "gpt-4o").is_some());
}
