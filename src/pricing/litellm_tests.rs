//! The litellm parser's rules, one test per rule.

use super::*;
use serde_json::json;

fn chat(provider: &str, input: Value, output: Value) -> Value {
    json!({"litellm_provider": provider, "mode": "chat",
        "input_cost_per_token": input, "output_cost_per_token": output})
}

/// A map with the OpenAI and Anthropic models every map needs, plus `extra`.
fn map_with(extra: Value) -> Value {
    let mut map = json!({
        "gpt-x": chat("openai", json!(1e-6), json!(2e-6)),
        "claude-x": chat("anthropic", json!(3e-6), json!(1.5e-5)),
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut map, extra) {
        m.extend(e);
    }
    map
}

fn names(map: &Value) -> Vec<String> {
    let mut n: Vec<String> = parse_map(map).unwrap().names.into_keys().collect();
    n.sort();
    n
}

#[test]
fn prices_are_per_token_times_a_million() {
    let parsed = parse_map(&map_with(json!({}))).unwrap();
    let p = &parsed.names["gpt-x"];
    assert_eq!(p.key, "gpt-x");
    assert_eq!(p.table, "litellm");
    assert_eq!(p.base.prompt_per_million, 1e-6 * 1e6);
    assert_eq!(p.base.completion_per_million, 2e-6 * 1e6);
    assert_eq!(
        parsed.counts,
        vec![("anthropic".into(), 1), ("openai".into(), 1)]
    );
}

#[test]
fn only_chat_entries_of_priced_providers_count() {
    let map = map_with(json!({
        "embed": {"litellm_provider": "openai", "mode": "embedding", "input_cost_per_token": 1e-7},
        "mistral-x": chat("mistral", json!(1e-6), json!(1e-6)),
        "sample_spec": {"litellm_provider": "one of ...", "mode": "one of: chat"},
        "not-an-object": 3,
    }));
    assert_eq!(
        names(&map),
        ["anthropic/claude-x", "claude-x", "gpt-x", "openai/gpt-x"]
    );
}

#[test]
fn a_map_without_openai_or_anthropic_chat_models_is_refused() {
    for map in [
        json!({"a": 1}),
        json!([1]),
        json!({"gpt-x": chat("openai", json!(1), json!(1))}),
    ] {
        let err = parse_map(&map).unwrap_err();
        assert!(matches!(err, CoreError::Corrupt(_)), "{err:?}");
    }
}

#[test]
fn missing_input_or_output_prices_are_zero_and_null_or_bool_prices_absent() {
    let map = map_with(
        json!({"gpt-free": {"litellm_provider": "openai", "mode": "chat",
        "cache_read_input_token_cost": null, "cache_creation_input_token_cost": true}}),
    );
    let parsed = parse_map(&map).unwrap();
    let p = &parsed.names["gpt-free"].base;
    assert_eq!((p.prompt_per_million, p.completion_per_million), (0.0, 0.0));
    assert_eq!(p.cache_read_per_million, None);
    assert_eq!(p.cache_creation_per_million, None);
}

#[test]
fn numeric_strings_are_prices() {
    let map = map_with(json!({"gpt-s": chat("openai", json!(" 1e-6 "), json!("2e-6"))}));
    let parsed = parse_map(&map).unwrap();
    assert_eq!(parsed.names["gpt-s"].base.prompt_per_million, 1e-6 * 1e6);
}

/// The policy for a bad price: the whole map is refused, naming the model and the field.
#[test]
fn a_negative_non_finite_or_non_numeric_price_refuses_the_map() {
    for bad in [
        json!(-1e-6),
        json!("abc"),
        json!("-1"),
        json!("inf"),
        json!(1e305),
    ] {
        let map = map_with(json!({"gpt-bad": chat("openai", json!(1e-6), bad.clone())}));
        let err = parse_map(&map).unwrap_err();
        assert!(matches!(err, CoreError::Corrupt(_)), "{bad}: {err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("'gpt-bad'.output_cost_per_token"),
            "{bad}: {msg}"
        );
    }
    // In a tier too.
    let mut entry = chat("openai", json!(1e-6), json!(1e-6));
    entry["input_cost_per_token_above_128k_tokens"] = json!(-1);
    let err = parse_map(&map_with(json!({"gpt-bad": entry}))).unwrap_err();
    assert!(err.to_string().contains("above_128k"), "{err}");
}

#[test]
fn long_context_tiers_are_read_in_order() {
    let mut entry = chat("anthropic", json!(3e-6), json!(1.5e-5));
    entry["input_cost_per_token_above_200k_tokens"] = json!(6e-6);
    entry["output_cost_per_token_above_128k_tokens"] = json!(2e-5);
    entry["input_cost_per_token_above_99999999999999999999k_tokens"] = json!(1e-6);
    entry["input_cost_per_token_above_200k_tokens_priority"] = json!(9e-6);
    entry["cache_creation_input_token_cost_above_1hr"] = json!(6e-6);
    let parsed = parse_map(&map_with(json!({"claude-long": entry}))).unwrap();
    let p = &parsed.names["claude-long"];
    let tiers: Vec<(f64, Option<f64>, Option<f64>)> = p
        .tiers
        .iter()
        .map(|t| (t.above_tokens, t.prompt, t.completion))
        .collect();
    assert_eq!(
        tiers,
        [
            (128_000.0, None, Some(2e-5 * 1e6)),
            (200_000.0, Some(6e-6 * 1e6), None)
        ]
    );
    assert_eq!(p.cache_creation_1h_per_million, Some(6e-6 * 1e6));
}

#[test]
fn bare_keys_also_resolve_with_their_prefix_except_gemini() {
    let map = map_with(json!({
        "openai/gpt-y": chat("openai", json!(1e-6), json!(1e-6)),
        "gemini/gem-a": chat("gemini", json!(1e-7), json!(4e-7)),
        "gem-b": chat("gemini", json!(1e-7), json!(4e-7)),
    }));
    let n = names(&map);
    for present in ["openai/gpt-y", "gemini/gem-a", "gem-b"] {
        assert!(n.iter().any(|x| x == present), "{present} in {n:?}");
    }
    for absent in ["gpt-y", "gem-a", "gemini/gem-b"] {
        assert!(!n.iter().any(|x| x == absent), "{absent} in {n:?}");
    }
}

#[test]
fn a_bare_gemini_key_is_another_name_only_when_its_prices_agree() {
    let map = map_with(json!({
        "gemini/same": chat("gemini", json!(1e-7), json!(4e-7)),
        "same": chat("gemini", json!(1e-7), json!(4e-7)),
        "gemini/differs": chat("gemini", json!(1e-7), json!(4e-7)),
        "differs": chat("gemini", json!(2e-7), json!(4e-7)),
    }));
    let parsed = parse_map(&map).unwrap();
    assert_eq!(parsed.names["same"].key, "gemini/same");
    assert!(!parsed.names.contains_key("differs"));
    let google = parsed.counts.iter().find(|(p, _)| p == "google").unwrap();
    assert_eq!(google.1, 2);
}

#[test]
fn aliases_point_to_priced_models_only_and_never_replace_a_name() {
    let mut parsed = parse_map(&map_with(json!({
        "gemini/gem": chat("gemini", json!(1e-7), json!(4e-7)),
    })))
    .unwrap();
    parsed.add_alias("gem", "gemini/gem").unwrap();
    assert_eq!(parsed.names["gem"].key, "gemini/gem");
    let missing = parsed.add_alias("x", "no-such-key").unwrap_err();
    assert!(missing.to_string().contains("'no-such-key'"), "{missing}");
    let taken = parsed.add_alias("gpt-x", "gemini/gem").unwrap_err();
    assert!(taken.to_string().contains("'gpt-x'"), "{taken}");
    assert_eq!(parsed.names["gpt-x"].key, "gpt-x");
}
