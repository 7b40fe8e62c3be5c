//! The price catalog: providers, their models and the names that resolve to them.
//!
//! Built from `catalog.json` (format 2, written by `scripts/gen_catalog.py` from genai-prices
//! and litellm; its format is defined by [`PriceCatalog::from_format2`] and `prices.rs`, its use by the
//! README's pricing section), parsed lazily
//! on first use. `refresh_catalog` merges models read from a genai-prices or litellm price
//! list into it (the `merge` module): refreshed names override, nothing
//! embedded disappears.
//!
//! Name resolution (provider, model), one model one price:
//!
//! 1. the model name trimmed and lowercased, under the provider (its aliases map to it:
//!    `Gemini`, `google_genai` mean `google`);
//! 2. ART's Tinker table (openpipe-art's fallback, matched under any provider);
//! 3. `<p>/<rest>` with `<p>` a provider alias: `<rest>` under that provider;
//! 4. the name under every other provider (first-party ones first), priced with the
//!    requested provider's usage shape, as openpipe-art does;
//! 5. the same with one trailing snapshot date removed (`-YYYYMMDD`, `-YYYY-MM-DD`, `@YYYYMMDD`);
//! 6. for a provider with Bedrock model ids (`aws`), under it: the id without its version
//!    suffix (`-v1:0`), then without its cross-region profile (`us.`, `eu.`, `apac.`...; an
//!    in-region price, which genai-prices' `regional.*` models give), then without the vendor
//!    (`anthropic.`). A `global.` profile is a name of its own (cheaper than regional ones);
//!
//! else an error naming up to three nearest names; never $0.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::prices::{
    Condition, Model, Period, Price, PriceKey, PriceSet, Variant, parse_date, parse_hhmm,
};
use super::{Formula, is_price, listed_price};
use crate::error::{CoreError, CoreResult};

/// The catalog built into the extension.
pub const BUILTIN_CATALOG_JSON: &str = include_str!("catalog.json");

/// The `format` of `catalog.json` this parser reads.
pub const CATALOG_FORMAT: u64 = 2;

/// Where the active catalog came from.
#[derive(Debug, Clone, PartialEq)]
pub enum PriceOrigin {
    /// The catalog built into the extension.
    Builtin,
    /// The built-in catalog with a refreshed price list (cached at `path`) merged in.
    Cache {
        path: String,
        url: String,
        fetched_at: String,
        /// `genai-prices` or `litellm`: the format detected.
        format: String,
    },
}

/// A catalog provider: its aliases, pricing pages and litellm provider names.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderInfo {
    pub name: String,
    pub aliases: Vec<String>,
    pub pricing_urls: Vec<String>,
    /// The `litellm_provider` values whose entries are this provider's.
    pub litellm: Vec<String>,
    /// The usage shape of its responses, as the catalog names it (`openai`, `anthropic`,
    /// `gemini`, `bedrock`, `perplexity`; `openai` when absent).
    pub usage: String,
}

impl ProviderInfo {
    /// The usage shape (and formula) of this provider's responses.
    pub fn formula(&self) -> Formula {
        match self.usage.as_str() {
            "anthropic" => Formula::Anthropic,
            "gemini" => Formula::Gemini,
            "bedrock" => Formula::Bedrock,
            "perplexity" => Formula::Perplexity,
            _ => Formula::OpenAi,
        }
    }

    /// Whether its model ids are Bedrock's (version suffixes, cross-region profiles).
    fn bedrock_ids(&self) -> bool {
        self.usage == "bedrock"
    }
}

/// A source of the catalog's prices, with its version.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    pub name: String,
    pub version: String,
    pub url: String,
}

/// Providers, models, and the names that resolve to them.
#[derive(Debug, Clone)]
pub struct PriceCatalog {
    pub sources: Vec<SourceInfo>,
    pub sha256: String,
    pub origin: PriceOrigin,
    pub(super) providers: Vec<ProviderInfo>,
    /// Provider alias (lowercase) -> index in `providers`.
    aliases: HashMap<String, usize>,
    /// Per provider: its models (refreshed ones appended) and name -> index in it.
    pub(super) models: Vec<Vec<Arc<Model>>>,
    pub(super) names: Vec<HashMap<String, usize>>,
    /// Provider search order for names not found under the requested provider.
    order: Vec<usize>,
    /// The index of ART's Tinker table (provider `tinker`), if any.
    tinker: Option<usize>,
}

/// A model found for a (provider, name): the model and the provider it was found under.
#[derive(Debug, Clone)]
pub struct Found {
    pub model: Arc<Model>,
    pub provider: String,
}

impl PriceCatalog {
    /// Parses the built-in catalog.
    pub fn builtin() -> CoreResult<PriceCatalog> {
        Self::from_format2(BUILTIN_CATALOG_JSON)
    }

    /// Parses a catalog in format 2 (this parser and `prices.rs` define it); any bad entry
    /// refuses it.
    pub fn from_format2(json: &str) -> CoreResult<PriceCatalog> {
        let corrupt = |e: String| CoreError::Corrupt(format!("built-in price catalog: {e}"));
        let raw: Value = serde_json::from_str(json).map_err(|e| corrupt(e.to_string()))?;
        if raw.get("format").and_then(Value::as_u64) != Some(CATALOG_FORMAT) {
            return Err(corrupt(format!("format is not {CATALOG_FORMAT}")));
        }
        let obj = |k: &str| {
            raw.get(k)
                .and_then(Value::as_object)
                .ok_or_else(|| corrupt(format!("no '{k}' object")))
        };
        let mut sources: Vec<SourceInfo> = obj("sources")?
            .iter()
            .map(|(name, s)| SourceInfo {
                name: name.clone(),
                version: text(s, "version"),
                url: text(s, "url"),
            })
            .collect();
        sources.sort_by_key(|s| s.name != "genai-prices");
        let mut providers = Vec::new();
        for (name, p) in obj("providers")? {
            let list = |k: &str| -> Vec<String> {
                p.get(k)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            providers.push(ProviderInfo {
                name: name.clone(),
                aliases: list("aliases"),
                pricing_urls: list("pricing_urls"),
                litellm: list("litellm"),
                usage: text(p, "usage"),
            });
        }
        let mut catalog = PriceCatalog::empty(providers, sources, text(&raw, "sha256"));
        for (provider, models) in obj("models")? {
            let idx = catalog
                .provider_index(provider)
                .ok_or_else(|| corrupt(format!("models of unknown provider '{provider}'")))?;
            let models = models
                .as_array()
                .ok_or_else(|| corrupt(format!("models of '{provider}' are not a list")))?;
            for m in models {
                let model = format2_model(m).map_err(|e| corrupt(format!("{provider}: {e}")))?;
                catalog
                    .add(idx, model, false)
                    .map_err(|e| corrupt(format!("{provider}: {e}")))?;
            }
        }
        Ok(catalog)
    }

    fn empty(
        mut providers: Vec<ProviderInfo>,
        sources: Vec<SourceInfo>,
        sha256: String,
    ) -> PriceCatalog {
        // First-party providers first, then ART's Tinker table, then the rest by name.
        let rank = |n: &str| {
            ["openai", "anthropic", "google", "tinker"]
                .iter()
                .position(|x| *x == n)
                .unwrap_or(4)
        };
        providers.sort_by(|a, b| (rank(&a.name), &a.name).cmp(&(rank(&b.name), &b.name)));
        let mut aliases = HashMap::new();
        for (i, p) in providers.iter().enumerate() {
            aliases.insert(p.name.clone(), i);
            for a in &p.aliases {
                aliases.entry(a.to_lowercase()).or_insert(i);
            }
        }
        let n = providers.len();
        let tinker = providers.iter().position(|p| p.name == "tinker");
        PriceCatalog {
            tinker,
            sources,
            sha256,
            origin: PriceOrigin::Builtin,
            order: (0..n).collect(),
            providers,
            aliases,
            models: vec![Vec::new(); n],
            names: vec![HashMap::new(); n],
        }
    }

    /// Adds a model under provider `idx`. With `overriding`, its names take over from the
    /// models that had them; otherwise a name already taken is an error.
    pub(super) fn add(&mut self, idx: usize, model: Model, overriding: bool) -> Result<(), String> {
        let at = self.models[idx].len();
        let names: Vec<String> = model.all_names().collect();
        for name in names {
            if self.names[idx].insert(name.clone(), at).is_some() && !overriding {
                return Err(format!("the name '{name}' is given twice"));
            }
        }
        self.models[idx].push(Arc::new(model));
        Ok(())
    }

    /// The index of the provider `name` (any alias, any case) names.
    pub fn provider_index(&self, name: &str) -> Option<usize> {
        self.aliases
            .get(name.trim().to_lowercase().as_str())
            .copied()
    }

    /// The providers, in search order.
    pub fn providers(&self) -> &[ProviderInfo] {
        &self.providers
    }

    /// The usage shape of responses of `provider` (`None` for a provider the catalog does not know).
    pub fn formula(&self, provider: &str) -> Formula {
        self.provider_index(provider)
            .map_or(Formula::None, |i| self.providers[i].formula())
    }

    fn get(&self, idx: usize, name: &str) -> Option<Found> {
        let at = *self.names[idx].get(name)?;
        Some(Found {
            model: Arc::clone(&self.models[idx][at]),
            provider: self.providers[idx].name.clone(),
        })
    }

    fn find(&self, want: Option<usize>, name: &str) -> Option<Found> {
        if let Some(found) = want.and_then(|p| self.get(p, name)) {
            return Some(found);
        }
        // ART's Tinker names (`moonshotai/Kimi-K2.5`) before the prefix rule.
        if let Some(found) = self.tinker.and_then(|p| self.get(p, name)) {
            return Some(found);
        }
        if let Some((prefix, rest)) = name.split_once('/')
            && let Some(&p) = self.aliases.get(prefix)
            && let Some(found) = self.get(p, rest)
        {
            return Some(found);
        }
        self.order
            .iter()
            .filter(|&&p| Some(p) != want)
            .find_map(|&p| self.get(p, name))
    }

    /// The model `model` names under `provider` (module docs for the order).
    pub fn resolve(&self, provider: &str, model: &str) -> CoreResult<Found> {
        let want = self.provider_index(provider);
        let name = model.trim().to_lowercase();
        if let Some(found) = self.find(want, &name) {
            return Ok(found);
        }
        if let Some(undated) = strip_snapshot_date(&name)
            && let Some(found) = self.find(want, undated)
        {
            return Ok(found);
        }
        if let Some(p) = want.filter(|&p| self.providers[p].bedrock_ids()) {
            for form in bedrock_forms(&name) {
                if let Some(found) = self.get(p, form) {
                    return Ok(found);
                }
            }
        }
        Err(self.unknown(want, model.trim()))
    }

    fn unknown(&self, want: Option<usize>, model: &str) -> CoreError {
        let name = model.to_lowercase();
        let pool: Vec<usize> = match want {
            Some(p) => vec![p],
            None => self.order.clone(),
        };
        let names = pool.iter().flat_map(|&p| self.names[p].keys());
        let nearest: Vec<String> = nearest(&name, names.map(String::as_str))
            .iter()
            .take(3)
            .map(|(_, n)| format!("'{n}'"))
            .collect();
        let mut msg = super::no_pricing_error(model).to_string();
        if !nearest.is_empty() {
            msg.push_str(" Nearest catalog names: ");
            msg.push_str(&nearest.join(", "));
            msg.push('.');
        }
        CoreError::Unpriced(msg)
    }

    /// Checks a provider name where it is given (`track_api_cost`, `add_response_cost`): a
    /// name the catalog does not know but that is one or two edits from one it does
    /// (`opnai`) is a mistake, refused naming the nearest provider names (as a misspelled
    /// model is). Other unknown names (a provider of your own) stay usable with a reported
    /// cost or a cost extractor, and so does any name `has_extractor` says has one (asked
    /// only for a name the catalog does not know).
    pub fn check_provider(
        &self,
        provider: &str,
        has_extractor: impl FnOnce() -> bool,
    ) -> CoreResult<()> {
        // Entry points pass normalized names: the common case allocates nothing.
        if self.aliases.contains_key(provider) {
            return Ok(());
        }
        let name = provider.trim().to_lowercase();
        if self.aliases.contains_key(&name) || has_extractor() {
            return Ok(());
        }
        let scored = nearest(&name, self.aliases.keys().map(String::as_str));
        // One edit in three characters at most: `opnai`, `anthropc`, `gemnii`; not `xyz`.
        match scored.first() {
            Some(&(d, _)) if d * 3 <= name.chars().count() => {
                let shown: Vec<String> = scored
                    .iter()
                    .take_while(|(x, _)| *x <= d + 1)
                    .take(3)
                    .map(|(_, n)| format!("'{n}'"))
                    .collect();
                Err(CoreError::value(format!(
                    "Unknown provider '{}'. Nearest provider names: {}. (A provider of your \
                     own needs a cost extractor: register_cost_extractor.)",
                    provider.trim(),
                    shown.join(", ")
                )))
            }
            _ => Ok(()),
        }
    }

    /// Models per provider, by provider name.
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = self
            .providers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let live: std::collections::HashSet<usize> =
                    self.names[i].values().copied().collect();
                (p.name.clone(), live.len())
            })
            .collect();
        out.sort();
        out
    }

    /// Number of resolvable (provider, name) pairs.
    pub fn name_count(&self) -> usize {
        self.names.iter().map(HashMap::len).sum()
    }

    /// Every model that some name resolves to, with its provider and the names that do
    /// (sorted by provider, then id).
    pub fn entries(&self) -> Vec<(String, Arc<Model>, Vec<String>)> {
        let mut out = Vec::new();
        for (i, p) in self.providers.iter().enumerate() {
            let mut by_model: HashMap<usize, Vec<String>> = HashMap::new();
            for (name, &at) in &self.names[i] {
                by_model.entry(at).or_default().push(name.clone());
            }
            for (at, mut names) in by_model {
                names.sort();
                out.push((p.name.clone(), Arc::clone(&self.models[i][at]), names));
            }
        }
        out.sort_by(|a, b| (&a.0, &a.1.id).cmp(&(&b.0, &b.1.id)));
        out
    }
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_owned()
}

/// `name` without one trailing snapshot date, if it has one.
pub fn strip_snapshot_date(name: &str) -> Option<&str> {
    let b = name.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let n = b.len();
    if n > 9 && (b[n - 9] == b'-' || b[n - 9] == b'@') && digits(&b[n - 8..]) {
        return Some(&name[..n - 9]);
    }
    if n > 11
        && b[n - 11] == b'-'
        && digits(&b[n - 10..n - 6])
        && b[n - 6] == b'-'
        && digits(&b[n - 5..n - 3])
        && b[n - 3] == b'-'
        && digits(&b[n - 2..])
    {
        return Some(&name[..n - 11]);
    }
    None
}

/// Bedrock's cross-region inference profile prefixes that bill at the in-region price.
const BEDROCK_REGIONS: [&str; 8] = ["us.", "eu.", "apac.", "jp.", "au.", "ca.", "us-gov.", "in."];

/// The shorter forms of a Bedrock model id, most specific first (module docs, step 6):
/// `us.anthropic.claude-x-v1:0` -> `us.anthropic.claude-x`, `anthropic.claude-x`, `claude-x`.
fn bedrock_forms(name: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(3);
    let bare = strip_bedrock_version(name);
    out.push(bare);
    let mut rest = bare;
    if let Some(r) = BEDROCK_REGIONS.iter().find_map(|p| rest.strip_prefix(p)) {
        rest = r;
        out.push(rest);
    }
    if let Some((vendor, model)) = rest.split_once('.')
        && !vendor.is_empty()
        && vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !model.is_empty()
    {
        out.push(model);
        if let Some(undated) = strip_snapshot_date(model) {
            out.push(undated);
        }
    }
    out
}

/// `name` without a Bedrock version suffix (`-v1:0`, `-v2`, `:0`), if it has one.
fn strip_bedrock_version(name: &str) -> &str {
    let b = name.as_bytes();
    let digits_back = |end: usize| {
        b[..end]
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut end = b.len();
    // `:N`
    let n = digits_back(end);
    if n > 0 && end > n && b[end - n - 1] == b':' {
        end -= n + 1;
    }
    // `-vN`
    let n = digits_back(end);
    if n > 0 && end > n + 1 && b[end - n - 1] == b'v' && b[end - n - 2] == b'-' {
        end -= n + 2;
    }
    &name[..end]
}

/// `names` by their edit distance to `query`, nearest first (ties by name), each once: the
/// suggestions for an unknown model or provider.
fn nearest<'a>(query: &str, names: impl Iterator<Item = &'a str>) -> Vec<(usize, &'a str)> {
    let mut scored: Vec<(usize, &str)> = names.map(|n| (edit_distance(query, n), n)).collect();
    scored.sort_unstable();
    scored.dedup_by_key(|(_, n)| *n);
    scored
}

/// Levenshtein distance (for the nearest names of an unknown model or provider).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// One price value: a number, or `{"base": b, "tiers": [[start, price], ...]}` (catalog) or
/// `[{"start": s, "price": p}, ...]` (genai-prices). Finite, non-negative, starts ascending.
pub fn price_value(v: &Value) -> Result<Price, String> {
    let number = |v: &Value| {
        v.as_f64()
            .filter(|x| is_price(*x) && !v.is_boolean())
            .ok_or_else(|| format!("{v} is not a finite non-negative number"))
    };
    let price = |v: &Value| number(v).and_then(listed_price);
    match v {
        Value::Number(_) => Ok(Price::Flat(price(v)?)),
        Value::Object(o) => {
            let base = price(o.get("base").unwrap_or(&Value::Null))?;
            let mut tiers = Vec::new();
            for t in o
                .get("tiers")
                .and_then(Value::as_array)
                .ok_or("tiers must be a list")?
            {
                let (s, p) = match t {
                    Value::Array(a) if a.len() == 2 => (&a[0], &a[1]),
                    Value::Object(t) => (
                        t.get("start").unwrap_or(&Value::Null),
                        t.get("price").unwrap_or(&Value::Null),
                    ),
                    _ => return Err(format!("bad tier {t}")),
                };
                tiers.push((number(s)?, price(p)?));
            }
            if tiers.windows(2).any(|w| w[0].0 >= w[1].0) {
                return Err("tier starts must ascend".into());
            }
            Ok(Price::Tiered {
                base,
                tiers: tiers.into(),
            })
        }
        other => Err(format!("{other} is not a price")),
    }
}

/// The price keys of a JSON object (other fields ignored).
pub fn price_set(o: &Map<String, Value>) -> Result<PriceSet, String> {
    let mut set = PriceSet::default();
    for (k, v) in o {
        if let Some(key) = PriceKey::from_name(k) {
            set.set(key, price_value(v).map_err(|e| format!("{k}: {e}"))?);
        }
    }
    Ok(set)
}

fn date(v: &Value) -> Result<i64, String> {
    v.as_str()
        .and_then(parse_date)
        .ok_or_else(|| format!("{v} is not a YYYY-MM-DD date"))
}

fn format2_model(v: &Value) -> Result<Model, String> {
    let o = v.as_object().ok_or("a model is not an object")?;
    let id = o
        .get("id")
        .and_then(Value::as_str)
        .ok_or("a model has no id")?
        .to_owned();
    let fail = |e: String| format!("model '{id}': {e}");
    let mut periods = Vec::new();
    for p in o
        .get("prices")
        .and_then(Value::as_array)
        .ok_or_else(|| fail("no prices".into()))?
    {
        let p = p
            .as_object()
            .ok_or_else(|| fail("a period is not an object".into()))?;
        let when = match (p.get("from"), p.get("utc")) {
            (Some(d), _) => Condition::From(date(d).map_err(fail)?),
            (None, Some(Value::Array(h))) if h.len() == 2 => {
                let hm = |x: &Value| {
                    x.as_str()
                        .and_then(parse_hhmm)
                        .ok_or_else(|| fail(format!("bad utc {x}")))
                };
                Condition::Hours(hm(&h[0])?, hm(&h[1])?)
            }
            (None, Some(x)) => return Err(fail(format!("bad utc {x}"))),
            (None, None) => Condition::Always,
        };
        periods.push(Period {
            when,
            prices: price_set(p).map_err(fail)?,
        });
    }
    if periods.is_empty() {
        return Err(fail("no prices".into()));
    }
    let mut variants = Vec::new();
    for x in o
        .get("variants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let x = x
            .as_object()
            .ok_or_else(|| fail("a variant is not an object".into()))?;
        variants.push(Variant {
            when: when_pairs(x.get("when")).map_err(fail)?,
            from: x.get("from").map(date).transpose().map_err(fail)?,
            prices: price_set(x).map_err(fail)?,
        });
    }
    let names = o
        .get("names")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default();
    Ok(Model {
        src: o
            .get("src")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        id,
        names,
        periods,
        variants,
    })
}

/// A variant's `when` object as (key, value) pairs; non-empty, string values.
pub fn when_pairs(v: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    let o = v
        .and_then(Value::as_object)
        .filter(|o| !o.is_empty())
        .ok_or("a variant has no 'when'")?;
    o.iter()
        .map(|(k, x)| {
            x.as_str()
                .map(|x| (k.clone(), x.to_owned()))
                .ok_or_else(|| format!("when.{k} is not a string"))
        })
        .collect()
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
