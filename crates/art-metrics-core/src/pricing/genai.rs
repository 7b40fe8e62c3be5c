//! The reader of genai-prices' published data (`prices/data.json`: a list of providers, each
//! with its models), for `refresh_catalog`.
//!
//! - a provider is taken when its `id` is an alias of a catalog provider (`x-ai` is `xai`);
//! - a model's names are its id and the literals of its `match` clause (`equals`, and
//!   `starts_with` without a trailing `-@:.`), lowercased;
//! - `prices` is one price object or a list of `{"constraint": ..., "prices": ...}` periods
//!   (`start_date`, or `start_time`/`end_time` in UTC); `price_variants` are
//!   `{"when": ..., "prices": ..., "constraint": ...}`;
//! - a model with a bad value (a negative, non-finite or non-number price, a bad date) is
//!   skipped with a warning naming it; the others are kept.

use serde_json::{Map, Value};

use super::catalog::{PriceCatalog, price_set, when_pairs};
use super::prices::{Condition, Model, Period, Variant, parse_date, parse_hhmm};

/// Models read from a price list, per catalog provider index, and a warning per model skipped.
#[derive(Debug, Default)]
pub struct Parsed {
    pub models: Vec<(usize, Model)>,
    pub skipped: Vec<String>,
}

/// True when `data` looks like genai-prices' data: a list of objects with `id` and `models`.
pub fn is_genai_prices(data: &Value) -> bool {
    matches!(data, Value::Array(a) if a.first().is_some_and(|p| p.get("models").is_some() && p.get("id").is_some()))
}

/// Reads genai-prices' data (module docs).
pub fn parse(data: &Value, catalog: &PriceCatalog) -> Parsed {
    let mut out = Parsed::default();
    for p in data.as_array().into_iter().flatten() {
        let Some(idx) = p
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| catalog.provider_index(id))
        else {
            continue;
        };
        for m in p
            .get("models")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = m.get("id").and_then(Value::as_str).unwrap_or("?");
            match model(m) {
                Ok(model) => out.models.push((idx, model)),
                Err(e) => out
                    .skipped
                    .push(format!("{}/{id}: {e}", catalog.providers()[idx].name)),
            }
        }
    }
    out
}

fn constraint(c: Option<&Value>) -> Result<Condition, String> {
    let Some(c) = c.filter(|c| !c.is_null()) else {
        return Ok(Condition::Always);
    };
    if let Some(d) = c.get("start_date") {
        return d
            .as_str()
            .and_then(parse_date)
            .map(Condition::From)
            .ok_or_else(|| format!("bad start_date {d}"));
    }
    let hm = |k: &str| {
        c.get(k)
            .and_then(Value::as_str)
            .and_then(parse_hhmm)
            .ok_or_else(|| format!("bad {k}"))
    };
    Ok(Condition::Hours(hm("start_time")?, hm("end_time")?))
}

fn prices_object(v: &Value) -> Result<&Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| "prices must be an object".to_owned())
}

fn model(m: &Value) -> Result<Model, String> {
    let id = m
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or("no id")?;
    let mut periods = Vec::new();
    match m.get("prices") {
        Some(Value::Array(list)) => {
            for c in list {
                periods.push(Period {
                    when: constraint(c.get("constraint"))?,
                    prices: price_set(prices_object(c.get("prices").unwrap_or(&Value::Null))?)?,
                });
            }
        }
        Some(p) => periods.push(Period {
            when: Condition::Always,
            prices: price_set(prices_object(p)?)?,
        }),
        None => return Err("no prices".into()),
    }
    if periods.is_empty() || periods.iter().all(|p| p.prices.is_empty()) {
        return Err("no prices".into());
    }
    let mut variants = Vec::new();
    for v in m
        .get("price_variants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let from = match constraint(v.get("constraint"))? {
            Condition::From(d) => Some(d),
            _ => None,
        };
        variants.push(Variant {
            when: when_pairs(v.get("when"))?,
            from,
            prices: price_set(prices_object(v.get("prices").unwrap_or(&Value::Null))?)?,
        });
    }
    let mut names = Vec::new();
    if let Some(clause) = m.get("match") {
        literals(clause, &mut names);
    }
    let own = id.to_lowercase();
    names.retain(|n| *n != own && !n.is_empty());
    names.sort();
    names.dedup();
    Ok(Model {
        id: id.to_owned(),
        names,
        src: "genai-prices".into(),
        periods,
        variants,
    })
}

fn literals(clause: &Value, out: &mut Vec<String>) {
    let Some(o) = clause.as_object() else { return };
    for (k, v) in o {
        match (k.as_str(), v) {
            ("or" | "and", Value::Array(list)) => list.iter().for_each(|c| literals(c, out)),
            ("equals", Value::String(s)) => out.push(s.to_lowercase()),
            ("starts_with", Value::String(s)) => out.push(
                s.to_lowercase()
                    .trim_end_matches(['-', '@', ':', '.'])
                    .to_owned(),
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::prices::{PriceKey, RequestContext, RequestTime};
    use serde_json::json;

    #[test]
    fn reads_periods_tiers_variants_and_names() {
        let catalog = PriceCatalog::builtin().unwrap();
        let data = json!([
            {"id": "anthropic", "models": [
                {"id": "claude-x", "match": {"or": [{"starts_with": "claude-x-"}, {"equals": "claude-x.0"}]},
                 "prices": [
                    {"prices": {"input_mtok": {"base": 3, "tiers": [{"start": 200000, "price": 6}]}, "output_mtok": 15}},
                    {"constraint": {"start_date": "2026-03-13"}, "prices": {"input_mtok": 2, "output_mtok": 10}}],
                 "price_variants": [{"when": {"processing": "batch"}, "prices": {"input_mtok": 1}}]},
                {"id": "claude-bad", "prices": {"input_mtok": -1, "output_mtok": 1}},
                {"id": "claude-null", "prices": {"input_mtok": null, "output_mtok": 1}},
                {"id": "claude-huge", "prices": {"input_mtok": 1e306, "output_mtok": 1}},
                {"id": "claude-huge-tier", "prices": {"input_mtok": {"base": 3,
                    "tiers": [{"start": 200000, "price": 1e306}]}, "output_mtok": 1}}
            ]},
            {"id": "voyageai", "models": [{"id": "ignored", "prices": {"input_mtok": 1}}]}
        ]);
        assert!(is_genai_prices(&data));
        let parsed = parse(&data, &catalog);
        assert_eq!(parsed.models.len(), 1);
        assert_eq!(parsed.skipped.len(), 4, "{:?}", parsed.skipped);
        assert!(parsed.skipped[0].starts_with("anthropic/claude-bad"));
        // Issue #21 case 4: prices above the sane bound are skipped, naming the model.
        for (skipped, id) in parsed.skipped[2..]
            .iter()
            .zip(["claude-huge", "claude-huge-tier"])
        {
            assert!(
                skipped.starts_with(&format!("anthropic/{id}:")),
                "{skipped}"
            );
            assert!(skipped.contains("above the highest price"), "{skipped}");
        }
        let m = &parsed.models[0].1;
        assert_eq!(
            m.names,
            vec!["claude-x", "claude-x.0"]
                .into_iter()
                .filter(|n| *n != "claude-x")
                .collect::<Vec<_>>()
        );
        let before = RequestTime(parse_date("2026-01-01").unwrap() as f64 * 86_400.0);
        let ctx = RequestContext::default();
        assert_eq!(
            m.applied(before, &ctx).price(PriceKey::Input, 250_000.0),
            6.0
        );
        let batch = RequestContext { batch: true, ..ctx };
        assert_eq!(
            m.applied(RequestTime::now(), &batch)
                .price(PriceKey::Input, 0.0),
            1.0
        );
    }
}
