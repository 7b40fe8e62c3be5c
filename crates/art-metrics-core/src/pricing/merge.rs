//! How a refreshed price list is merged into the catalog, and what the merge changed.
//!
//! A refresh never makes prices worse (issue #22 part 3): a refreshed model replaces the
//! catalog model its names resolve to **term by term**. The terms the new list gives win;
//! the terms it does not mention (a cached-input price, audio or image input, 12-hour cache
//! writes, a batch variant: often from the catalog's second source) are kept from the
//! replaced model and listed in [`MergeReport::kept`]. Nothing is dropped. The replaced
//! model's other names (its dated snapshots...) follow it to the refreshed model, unless the
//! new list gives them an entry of their own: one model, one price.
//!
//! [`CatalogChanges`] is the one account of what a refresh changed, computed here and shown
//! as is by `refresh_catalog`'s result and the CLI: models are counted by id per provider,
//! so `before + added - removed == after` for every provider.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::catalog::{PriceCatalog, PriceOrigin, SourceInfo};
use super::prices::{
    Condition, Model, Period, Price, PriceKey, PriceSet, RequestContext, RequestTime, Variant,
};

/// What merging a price list kept from the models it replaced.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MergeReport {
    /// `provider/id` of each refreshed model that kept terms, and the terms it kept.
    pub kept: Vec<(String, Vec<PriceKey>)>,
}

/// `catalog` with `refreshed` models merged in, term by term: each replaces the model its id
/// (else its first name) resolves to, keeping the terms it does not price ([`fill_terms`]);
/// the replaced model's other names follow it unless a refreshed model claims them.
pub fn merge_catalog(
    catalog: &PriceCatalog,
    refreshed: Vec<(usize, Model)>,
    origin: PriceOrigin,
    source: SourceInfo,
    sha256: String,
) -> (PriceCatalog, MergeReport) {
    let mut out = catalog.clone();
    let mut report = MergeReport::default();
    // (provider, replaced model) -> the refreshed model that replaces it.
    let mut replaced: HashMap<(usize, usize), usize> = HashMap::new();
    let mut claimed: HashSet<(usize, String)> = HashSet::new();
    for (idx, model) in refreshed {
        let base = model
            .all_names()
            .find_map(|n| catalog.names[idx].get(&n).copied());
        let model = match base {
            Some(at) => {
                let (model, kept) = fill_terms(model, &catalog.models[idx][at]);
                if !kept.is_empty() {
                    let id = format!("{}/{}", catalog.providers[idx].name, model.id);
                    report.kept.push((id, kept));
                }
                model
            }
            None => model,
        };
        claimed.extend(model.all_names().map(|n| (idx, n)));
        let same_id = base.is_some_and(|at| catalog.models[idx][at].id == model.id);
        let new_at = out.models[idx].len();
        // Overriding never fails.
        let _ = out.add(idx, model, true);
        if let Some(at) = base {
            let slot = replaced.entry((idx, at)).or_insert(new_at);
            if same_id {
                *slot = new_at;
            }
        }
    }
    // Aliases follow their model: one model, one price.
    for ((idx, at), new_at) in replaced {
        for (name, &old) in &catalog.names[idx] {
            if old == at && !claimed.contains(&(idx, name.clone())) {
                out.names[idx].insert(name.clone(), new_at);
            }
        }
    }
    out.origin = origin;
    out.sources.insert(0, source);
    out.sha256 = sha256;
    (out, report)
}

/// `refreshed` with every term it does not price filled from `base`, the model it replaces:
/// each period from the base period in force at the end of it, each variant from the base
/// variant with the same conditions; base variants it lacks are kept whole. Returns the
/// terms kept (each once).
pub fn fill_terms(mut refreshed: Model, base: &Model) -> (Model, Vec<PriceKey>) {
    let mut kept = BTreeSet::new();
    let today = (RequestTime::now().0 / 86_400.0).floor() as i64;
    let starts: Vec<Option<i64>> = refreshed
        .periods
        .iter()
        .map(|p| match p.when {
            Condition::From(d) => Some(d),
            _ => None,
        })
        .collect();
    for (i, period) in refreshed.periods.iter_mut().enumerate() {
        // The last day this period is in force: the day before the next dated period.
        let last_day = starts[i + 1..]
            .iter()
            .flatten()
            .next()
            .map_or(today, |d| d - 1);
        let from = base_period(base, period.when, last_day);
        for (key, price) in from.prices.iter() {
            if period.prices.get(key).is_none() {
                period.prices.set(key, price.clone());
                kept.insert(key);
            }
        }
    }
    for bv in &base.variants {
        let same_when = |v: &&mut super::prices::Variant| same_conditions(&v.when, &bv.when);
        let mut matched = false;
        for v in refreshed.variants.iter_mut().filter(same_when) {
            matched = true;
            for (key, price) in bv.prices.iter() {
                if v.prices.get(key).is_none() {
                    v.prices.set(key, price.clone());
                    kept.insert(key);
                }
            }
        }
        if !matched && !bv.prices.is_empty() {
            kept.extend(bv.prices.iter().map(|(k, _)| k));
            refreshed.variants.push(bv.clone());
        }
    }
    (refreshed, kept.into_iter().collect())
}

/// The base period matching a refreshed period: the same hours for an hours period, else
/// the dated (or undated) period in force on `last_day`.
fn base_period(base: &Model, when: Condition, last_day: i64) -> &Period {
    if matches!(when, Condition::Hours(..))
        && let Some(p) = base.periods.iter().find(|p| p.when == when)
    {
        return p;
    }
    base.periods
        .iter()
        .rev()
        .find(|p| match p.when {
            Condition::Always => true,
            Condition::From(d) => last_day >= d,
            Condition::Hours(..) => false,
        })
        .unwrap_or(&base.periods[0])
}

/// What changed in `was`'s and `model`'s prices under a condition, each term once per
/// condition: the periods but the one in force `now` in both (today's standard prices,
/// compared by `CatalogChanges::between`), matched by condition, then the variants, matched
/// by their conditions and start, else by their conditions alone (a start that changed is
/// in the label: `processing=batch; from 2026-10-14 -> undated`). A period or variant only
/// one of them has changes from or to no price.
fn conditional_changes(was: &Model, model: &Model, now: RequestTime) -> Vec<ConditionalChange> {
    fn period(m: &Model, when: Condition) -> Option<&PriceSet> {
        m.periods.iter().find(|p| p.when == when).map(|p| &p.prices)
    }
    let empty = PriceSet::default();
    let mut out = Vec::new();
    let mut diff = |label: String, old: Option<&PriceSet>, new: Option<&PriceSet>| {
        let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
        for key in PriceKey::ALL {
            if old.get(key) != new.get(key) {
                out.push((
                    label.clone(),
                    key,
                    old.get(key).cloned(),
                    new.get(key).cloned(),
                ));
            }
        }
    };
    let in_force = (was.period_at(now).when, model.period_at(now).when);
    let mut whens: Vec<Condition> = Vec::new();
    for p in was.periods.iter().chain(&model.periods) {
        if !whens.contains(&p.when) && (p.when, p.when) != in_force {
            whens.push(p.when);
        }
    }
    for when in whens {
        diff(when.label(), period(was, when), period(model, when));
    }
    for (old, new) in paired_variants(was, model) {
        let label = match (old, new) {
            (Some(o), Some(n)) if o.from != n.from => {
                let start =
                    |from: Option<i64>| from.map_or(Condition::Always, Condition::From).label();
                format!(
                    "{}; {} -> {}",
                    n.conditions_label(),
                    start(o.from),
                    start(n.from)
                )
            }
            (Some(v), _) | (None, Some(v)) => v.label(),
            (None, None) => continue,
        };
        diff(label, old.map(|v| &v.prices), new.map(|v| &v.prices));
    }
    out
}

/// `was`'s variants each with `model`'s of the same conditions and start, else of the same
/// conditions (as `fill_terms` merges them), else alone; then `model`'s left alone.
fn paired_variants<'a>(
    was: &'a Model,
    model: &'a Model,
) -> Vec<(Option<&'a Variant>, Option<&'a Variant>)> {
    let mut left: Vec<&Variant> = model.variants.iter().collect();
    let mut pairs: Vec<(Option<&Variant>, Option<&Variant>)> = Vec::new();
    for o in &was.variants {
        let exact = left
            .iter()
            .position(|n| same_conditions(&n.when, &o.when) && n.from == o.from);
        pairs.push((Some(o), exact.map(|i| left.remove(i))));
    }
    for pair in &mut pairs {
        if let (Some(o), None) = *pair
            && let Some(i) = left.iter().position(|n| same_conditions(&n.when, &o.when))
        {
            pair.1 = Some(left.remove(i));
        }
    }
    pairs.extend(left.into_iter().map(|n| (None, Some(n))));
    pairs
}

fn same_conditions(a: &[(String, String)], b: &[(String, String)]) -> bool {
    let set = |x: &[(String, String)]| x.iter().cloned().collect::<BTreeSet<_>>();
    set(a) == set(b)
}

/// A term's price before and after (`None`: not priced).
pub type TermChange = (PriceKey, Option<Price>, Option<Price>);

/// A term's price before and after under a condition: a period or a variant, by its label
/// ([`Condition::label`], [`super::prices::Variant::label`]).
pub type ConditionalChange = (String, PriceKey, Option<Price>, Option<Price>);

/// What a refresh changed, against the catalog it replaced.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CatalogChanges {
    /// Models per provider (counted by id) before and after.
    pub models_before: BTreeMap<String, usize>,
    pub models_after: BTreeMap<String, usize>,
    /// `provider/id` of the models new to the catalog.
    pub added: Vec<String>,
    /// `provider/id` of the models gone as entries of their own (their names now resolve
    /// to a refreshed model that replaced them under another id).
    pub removed: Vec<String>,
    /// `provider/id` of the models whose prices today changed, with each term that did.
    pub changed: Vec<(String, Vec<TermChange>)>,
    /// `provider/id` of the models whose prices under a condition changed, which `changed`
    /// does not show (issue #23): a dated or hours period other than the one in force now,
    /// a service-tier, batch or speed variant.
    pub changed_conditional: Vec<(String, Vec<ConditionalChange>)>,
    /// The terms each refreshed model kept from the model it replaced.
    pub kept: Vec<(String, Vec<PriceKey>)>,
    /// The price list's entries skipped, each `provider/id: why`.
    pub skipped: Vec<String>,
}

/// The models of `catalog` per provider, by lowercase id (the first model met for an id).
fn by_id(catalog: &PriceCatalog) -> BTreeMap<String, BTreeMap<String, std::sync::Arc<Model>>> {
    let mut out: BTreeMap<String, BTreeMap<String, _>> = BTreeMap::new();
    for (name, _) in catalog.counts() {
        out.entry(name).or_default();
    }
    for (provider, model, _) in catalog.entries() {
        out.entry(provider)
            .or_default()
            .entry(model.id.to_lowercase())
            .or_insert(model);
    }
    out
}

impl CatalogChanges {
    /// The changes from `before` to `after` (prices as of today, standard tier).
    pub fn between(
        before: &PriceCatalog,
        after: &PriceCatalog,
        report: MergeReport,
        skipped: Vec<String>,
    ) -> CatalogChanges {
        let (old, new) = (by_id(before), by_id(after));
        let mut out = CatalogChanges {
            kept: report.kept,
            skipped,
            ..CatalogChanges::default()
        };
        let now = RequestTime::now();
        let ctx = RequestContext::default();
        let empty = BTreeMap::new();
        for provider in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
            let (o, n) = (
                old.get(provider).unwrap_or(&empty),
                new.get(provider).unwrap_or(&empty),
            );
            out.models_before.insert(provider.clone(), o.len());
            out.models_after.insert(provider.clone(), n.len());
            for (id, model) in n {
                let Some(was) = o.get(id) else {
                    out.added.push(format!("{provider}/{}", model.id));
                    continue;
                };
                let (a, b) = (was.applied(now, &ctx), model.applied(now, &ctx));
                let terms: Vec<TermChange> = PriceKey::ALL
                    .into_iter()
                    .filter(|&k| a.get(k) != b.get(k))
                    .map(|k| (k, a.get(k).cloned(), b.get(k).cloned()))
                    .collect();
                if !terms.is_empty() {
                    out.changed
                        .push((format!("{provider}/{}", model.id), terms));
                }
                let conditional = conditional_changes(was, model, now);
                if !conditional.is_empty() {
                    out.changed_conditional
                        .push((format!("{provider}/{}", model.id), conditional));
                }
            }
            for (id, model) in o {
                if !n.contains_key(id) {
                    out.removed.push(format!("{provider}/{}", model.id));
                }
            }
        }
        out
    }

    /// One line for the entries skipped (their count and the first few), `None` when none
    /// was: a refresh reports them once, not one warning each.
    pub fn skipped_summary(&self) -> Option<String> {
        const SHOWN: usize = 5;
        let n = self.skipped.len();
        if n == 0 {
            return None;
        }
        let first = self.skipped[..n.min(SHOWN)].join("; ");
        let more = if n > SHOWN {
            format!("; ... and {} more", n - SHOWN)
        } else {
            String::new()
        };
        let s = if n == 1 { "y" } else { "ies" };
        Some(format!(
            "{n} price list entr{s} skipped (a bad or no token price): {first}{more}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices(pairs: &[(PriceKey, f64)]) -> PriceSet {
        let mut s = PriceSet::default();
        for &(k, p) in pairs {
            s.set(k, Price::Flat(p));
        }
        s
    }

    fn model(id: &str, periods: Vec<Period>, variants: Vec<Variant>) -> Model {
        Model {
            id: id.into(),
            names: vec![],
            src: "test".into(),
            periods,
            variants,
        }
    }

    #[test]
    fn unmentioned_terms_are_kept_and_named() {
        use PriceKey::*;
        let base = model(
            "m",
            vec![Period {
                when: Condition::Always,
                prices: prices(&[(Input, 2.5), (CacheRead, 1.25), (InputAudio, 40.0)]),
            }],
            vec![Variant {
                when: vec![("processing".into(), "batch".into())],
                from: None,
                prices: prices(&[(Input, 1.25)]),
            }],
        );
        let refreshed = model(
            "m",
            vec![Period {
                when: Condition::Always,
                prices: prices(&[(Input, 2.0), (Output, 8.0)]),
            }],
            vec![],
        );
        let (merged, kept) = fill_terms(refreshed, &base);
        assert_eq!(kept, vec![Input, CacheRead, InputAudio]);
        let p = &merged.periods[0].prices;
        assert_eq!(p.get(Input), Some(&Price::Flat(2.0)), "the new list wins");
        assert_eq!(p.get(CacheRead), Some(&Price::Flat(1.25)));
        assert_eq!(p.get(InputAudio), Some(&Price::Flat(40.0)));
        assert_eq!(merged.variants.len(), 1, "the batch variant is kept");
    }

    #[test]
    fn dated_periods_fill_from_the_base_period_in_force_then() {
        use PriceKey::*;
        let base = model(
            "m",
            vec![
                Period {
                    when: Condition::Always,
                    prices: prices(&[(Input, 3.0), (CacheRead, 1.5)]),
                },
                Period {
                    when: Condition::From(20_000),
                    prices: prices(&[(Input, 2.0), (CacheRead, 0.5)]),
                },
            ],
            vec![],
        );
        let refreshed = model(
            "m",
            vec![
                Period {
                    when: Condition::Always,
                    prices: prices(&[(Input, 3.0)]),
                },
                Period {
                    when: Condition::From(20_000),
                    prices: prices(&[(Input, 2.0)]),
                },
            ],
            vec![],
        );
        let (merged, _) = fill_terms(refreshed, &base);
        assert_eq!(
            merged.periods[0].prices.get(CacheRead),
            Some(&Price::Flat(1.5))
        );
        assert_eq!(
            merged.periods[1].prices.get(CacheRead),
            Some(&Price::Flat(0.5))
        );
    }

    #[test]
    fn the_skipped_summary_is_one_line_with_the_count_and_the_first_entries() {
        let mut c = CatalogChanges::default();
        assert_eq!(c.skipped_summary(), None);
        c.skipped = (0..8).map(|i| format!("openai/m{i}: no prices")).collect();
        let line = c.skipped_summary().unwrap();
        assert!(!line.contains('\n'));
        assert!(line.starts_with("8 price list entries skipped"), "{line}");
        assert!(line.contains("openai/m0: no prices; openai/m1"), "{line}");
        assert!(line.ends_with("... and 3 more"), "{line}");
    }

    #[test]
    fn changes_under_conditions_name_the_period_or_variant() {
        use PriceKey::*;
        let (day, now) = (20_000, RequestTime(20_010.0 * 86_400.0));
        let batch = || vec![("processing".to_owned(), "batch".to_owned())];
        let was = model(
            "m",
            vec![
                Period {
                    when: Condition::Always,
                    prices: prices(&[(Input, 3.0)]),
                },
                Period {
                    when: Condition::From(day),
                    prices: prices(&[(Input, 2.0)]),
                },
            ],
            vec![
                Variant {
                    when: batch(),
                    from: None,
                    prices: prices(&[(Input, 1.0)]),
                },
                Variant {
                    when: vec![("service_tier".into(), "priority".into())],
                    from: Some(day),
                    prices: prices(&[(Input, 6.0)]),
                },
            ],
        );
        // Today's price (from `day`) is the same; the undated one, the batch price and a
        // new future period and flex variant are not.
        let new = model(
            "m",
            vec![
                Period {
                    when: Condition::Always,
                    prices: prices(&[(Input, 4.0)]),
                },
                Period {
                    when: Condition::From(day),
                    prices: prices(&[(Input, 2.0)]),
                },
                Period {
                    when: Condition::From(day + 365),
                    prices: prices(&[(Input, 1.5)]),
                },
            ],
            vec![
                Variant {
                    when: batch(),
                    from: None,
                    prices: prices(&[(Input, 0.75)]),
                },
                Variant {
                    when: vec![("service_tier".into(), "flex".into())],
                    from: Some(day),
                    prices: prices(&[(Output, 5.0)]),
                },
                Variant {
                    when: vec![("service_tier".into(), "priority".into())],
                    from: None,
                    prices: prices(&[(Input, 5.0)]),
                },
            ],
        );
        let flat = |p: f64| Some(Price::Flat(p));
        assert_eq!(
            conditional_changes(&was, &new, now),
            vec![
                ("undated".into(), Input, flat(3.0), flat(4.0)),
                ("from 2025-10-04".into(), Input, None, flat(1.5)),
                ("processing=batch".into(), Input, flat(1.0), flat(0.75)),
                (
                    "service_tier=priority; from 2024-10-04 -> undated".into(),
                    Input,
                    flat(6.0),
                    flat(5.0)
                ),
                (
                    "service_tier=flex from 2024-10-04".into(),
                    Output,
                    None,
                    flat(5.0)
                ),
            ]
        );
        assert_eq!(conditional_changes(&was, &was, now), vec![]);
        assert_eq!(Condition::From(20_000).label(), "from 2024-10-04");
        assert_eq!(Condition::Hours(990, 30).label(), "16:30-00:30 UTC");
    }
}
