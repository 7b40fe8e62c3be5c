//! Prints the names the core's litellm parser gives a price map, with the litellm key and
//! the base prices (USD per million tokens) each resolves to:
//! `{name: {"key": ..., "prompt": ..., "completion": ..., "cache_read": ..., "cache_creation": ...}}`.
//!
//! `scripts/gen_catalog.py` runs it (`cargo run -q --example litellm_names < map.json`) to
//! check every name against litellm and to find the names litellm resolves beyond them,
//! without restating the parser's rules in Python.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::ExitCode;

use art_metrics::pricing::litellm::parse_map;

fn main() -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    let parsed = serde_json::from_str(&input)
        .map_err(|e| e.to_string())
        .and_then(|map| parse_map(&map).map_err(|e| e.to_string()));
    match parsed {
        Ok(prices) => {
            let names: BTreeMap<&str, serde_json::Value> = prices
                .names
                .iter()
                .map(|(name, p)| {
                    let b = &p.base;
                    let shown = serde_json::json!({
                        "key": p.key,
                        "prompt": b.prompt_per_million,
                        "completion": b.completion_per_million,
                        "cache_read": b.cache_read_per_million,
                        "cache_creation": b.cache_creation_per_million,
                    });
                    (name.as_str(), shown)
                })
                .collect();
            println!("{}", serde_json::json!(names));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
