//! The built-in catalog and name resolution.

use super::*;
use crate::pricing::prices::{RequestContext, RequestTime};

fn cat() -> PriceCatalog {
    PriceCatalog::builtin().unwrap()
}

fn id(provider: &str, model: &str) -> Option<String> {
    cat()
        .resolve(provider, model)
        .ok()
        .map(|f| f.model.id.clone())
}

#[test]
fn builtin_catalog_parses_with_its_sources() {
    let c = cat();
    assert_eq!(c.origin, PriceOrigin::Builtin);
    assert_eq!(c.sources[0].name, "genai-prices");
    assert_eq!(c.sources[0].version, "0.2.5");
    assert!(
        c.sources
            .iter()
            .any(|s| s.name == "litellm" && s.version == "1.110.2")
    );
    let counts: HashMap<_, _> = c.counts().into_iter().collect();
    assert!(
        counts["openai"] > 100 && counts["anthropic"] > 20 && counts["google"] > 30,
        "{counts:?}"
    );
    assert_eq!(c.formula("Gemini"), Formula::Gemini);
    assert_eq!(c.formula("google_genai"), Formula::Gemini);
    assert_eq!(c.formula("ANTHROPIC"), Formula::Anthropic);
    assert_eq!(c.formula("groq"), Formula::OpenAi);
    assert_eq!(c.formula("xyz"), Formula::None);
    // Routes (issue #22): the names litellm and ART users write.
    for (alias, formula) in [
        ("azure", Formula::OpenAi),
        ("azure_openai", Formula::OpenAi),
        ("bedrock", Formula::Bedrock),
        ("aws", Formula::Bedrock),
        ("aws-bedrock", Formula::Bedrock),
        ("vertex_ai", Formula::Gemini),
        ("google-vertex", Formula::Gemini),
        ("vertex", Formula::Gemini),
        ("perplexity", Formula::Perplexity),
        ("cohere", Formula::OpenAi),
    ] {
        assert_eq!(c.formula(alias), formula, "{alias}");
    }
}

#[test]
fn bedrock_ids_resolve_with_their_profile_price() {
    let c = cat();
    let id = |provider: &str, name: &str| c.resolve(provider, name).unwrap().model.id.clone();
    let sonnet = "regional.anthropic.claude-sonnet-4-5-20250929-v1:0";
    for name in [
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "apac.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "anthropic.claude-sonnet-4-5-20250929-v2:0",
    ] {
        assert_eq!(id("bedrock", name), sonnet, "{name}");
    }
    assert_eq!(
        id("aws", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    );
    assert_eq!(
        id("bedrock", "us.amazon.nova-pro-v1:0"),
        "amazon.nova-pro-v1:0"
    );
    assert_eq!(
        id("bedrock", "us.openai.gpt-6-sol"),
        "regional.openai.gpt-6-sol"
    );
    // The version and profile forms are Bedrock's only (a full Bedrock id is a name of `aws`,
    // found from any provider as every other name is).
    let v9 = "eu.anthropic.claude-sonnet-4-5-20250929-v9:0";
    assert_eq!(id("bedrock", v9), sonnet);
    assert!(c.resolve("anthropic", v9).is_err());
    assert_eq!(strip_bedrock_version("a.b-v1:0"), "a.b");
    assert_eq!(strip_bedrock_version("a.b-1:0"), "a.b-1");
    assert_eq!(strip_bedrock_version("a.b-v2"), "a.b");
    assert_eq!(strip_bedrock_version("gpt-6-sol"), "gpt-6-sol");
}

#[test]
fn free_models_and_new_models_resolve() {
    let c = cat();
    for (provider, name) in [
        ("openrouter", "meta-llama/llama-3.3-70b-instruct:free"),
        ("openai", "gpt-6.2-astra"),
        ("openai", "gpt-6.2-sol"),
        ("google", "gemini-4-carbon"),
        ("google", "gemini-4-neon"),
        ("google", "gemini-4-hydrogen"),
        ("vertex_ai", "claude-sonnet-4-5@20250929"),
        ("azure", "phi-4"),
    ] {
        assert!(c.resolve(provider, name).is_ok(), "{provider}/{name}");
    }
}

#[test]
fn one_model_one_price() {
    let gpt41 = id("openai", "gpt-4.1");
    assert!(gpt41.is_some());
    for name in [
        "openai/gpt-4.1",
        "GPT-4.1",
        "OpenAI/GPT-4.1",
        " gpt-4.1-2025-04-14 ",
        "gpt-4.1-20990101",
    ] {
        assert_eq!(id("openai", name), gpt41, "{name}");
    }
    assert_eq!(id("OpenAI", "gpt-4.1"), gpt41);
    assert_eq!(
        id("google", "gemini/gemini-2.5-pro"),
        id("Gemini", "gemini-2.5-pro")
    );
    assert_eq!(
        id("anthropic", "anthropic/claude-sonnet-4-6"),
        id("anthropic", "claude-sonnet-4-6")
    );
    // Under another provider, a first-party name still resolves (OpenAI-compatible endpoints).
    assert_eq!(
        id("openai", "claude-sonnet-4-6"),
        id("anthropic", "claude-sonnet-4-6")
    );
    // ART's Tinker table, for any provider.
    assert_eq!(
        id("openai", "Qwen/Qwen3-8B").as_deref(),
        Some("Qwen/Qwen3-8B")
    );
}

#[test]
fn unknown_models_name_the_nearest() {
    let err = cat().resolve("openai", "gpt-4.1-nnao").unwrap_err();
    assert!(matches!(err, CoreError::Unpriced(_)));
    let msg = err.to_string();
    assert!(
        msg.contains("'gpt-4.1-nnao'") && msg.contains("'gpt-4.1-nano'"),
        "{msg}"
    );
}

#[test]
fn snapshot_dates_are_stripped_once() {
    assert_eq!(strip_snapshot_date("gpt-4o-2024-08-06"), Some("gpt-4o"));
    assert_eq!(strip_snapshot_date("claude-x-20250929"), Some("claude-x"));
    assert_eq!(strip_snapshot_date("claude-x@20250929"), Some("claude-x"));
    assert_eq!(strip_snapshot_date("gpt-4o"), None);
}

#[test]
fn refreshed_models_override_by_name_and_nothing_disappears() {
    let c = cat();
    let openai = c.provider_index("openai").unwrap();
    let mut set = PriceSet::default();
    set.set(PriceKey::Input, Price::Flat(99.0));
    set.set(PriceKey::Output, Price::Flat(99.0));
    let model = Model {
        id: "gpt-4o".into(),
        names: vec![],
        src: "test".into(),
        periods: vec![Period {
            when: Condition::Always,
            prices: set,
        }],
        variants: vec![],
    };
    let source = SourceInfo {
        name: "test".into(),
        version: "1".into(),
        url: String::new(),
    };
    let (merged, report) = crate::pricing::merge::merge_catalog(
        &c,
        vec![(openai, model)],
        PriceOrigin::Builtin,
        source,
        String::new(),
    );
    let now = RequestTime::now();
    let ctx = RequestContext::default();
    let price = |cat: &PriceCatalog, m: &str| {
        cat.resolve("openai", m)
            .unwrap()
            .model
            .applied(now, &ctx)
            .price(PriceKey::Input, 0.0)
    };
    assert_eq!(price(&merged, "gpt-4o"), 99.0);
    assert_eq!(price(&merged, "gpt-4.1"), price(&c, "gpt-4.1"));
    // Issue #22: the snapshot names follow their model (one model, one price) and the terms
    // the refreshed entry does not price are kept (cached input), named in the report.
    assert_eq!(price(&merged, "gpt-4o-2024-08-06"), 99.0);
    let cached = |cat: &PriceCatalog| {
        cat.resolve("openai", "gpt-4o")
            .unwrap()
            .model
            .applied(now, &ctx)
            .price(PriceKey::CacheRead, 0.0)
    };
    assert_eq!(cached(&merged), cached(&c));
    assert!(report.kept[0].0 == "openai/gpt-4o", "{report:?}");
    assert!(
        report.kept[0].1.contains(&PriceKey::CacheRead),
        "{report:?}"
    );
    assert_eq!(merged.name_count(), c.name_count());
    assert_eq!(merged.counts(), c.counts());
}

#[test]
fn bad_catalogs_are_refused() {
    for bad in [
        r#"{"format": 1}"#,
        r#"{"format": 2, "sources": {}, "providers": {"openai": {"aliases": ["openai"]}}, "models": {"openai": [{"id": "x", "prices": [{"input_mtok": -1}]}]}}"#,
        r#"{"format": 2, "sources": {}, "providers": {"openai": {"aliases": ["openai"]}}, "models": {"openai": [{"id": "x", "prices": [{"from": "2025-13-01", "input_mtok": 1}]}]}}"#,
        r#"{"format": 2, "sources": {}, "providers": {"openai": {"aliases": ["openai"]}}, "models": {"openai": [{"id": "x", "prices": [{"input_mtok": 1}]}, {"id": "X", "prices": [{"input_mtok": 1}]}]}}"#,
    ] {
        assert!(
            matches!(PriceCatalog::from_format2(bad), Err(CoreError::Corrupt(_))),
            "{bad}"
        );
    }
}

/// Issue #22 part 4: a misspelled provider is refused where it is given, naming the nearest
/// provider names; a provider of one's own (far from every name) or with an extractor is not.
#[test]
fn misspelled_providers_are_refused_with_the_nearest_names() {
    let c = cat();
    let err = c.check_provider("opnai", || false).unwrap_err();
    assert!(matches!(err, CoreError::InvalidValue(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("Unknown provider 'opnai'. Nearest provider names: 'openai'"),
        "{msg}"
    );
    assert!(c.check_provider(" Anthropc ", || false).is_err());
    for fine in ["openai", "OpenAI", "gemini", "xyz", "custom", "acme"] {
        assert_eq!(c.check_provider(fine, || false), Ok(()), "{fine}");
    }
    assert_eq!(c.check_provider("opnai", || true), Ok(()));
}
