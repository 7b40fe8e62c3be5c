//! The catalog functions behind `art_metrics.pricing`, and the warning for a bad cache file.

use crate::errors::{ToPyErr, to_py};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyList, PyString};

use crate::convert::{short_repr, str_arg, type_name};
use crate::notices::warn_as;
use art_metrics_core::error::CoreError;
use art_metrics_core::pricing::catalog::{PriceCatalog, PriceOrigin};
use art_metrics_core::pricing::merge::CatalogChanges;
use art_metrics_core::pricing::prices::{Model, Price, PriceSet, RequestTime};
use art_metrics_core::pricing::{provider_name, refresh, store};

pyo3::create_exception!(
    art_metrics._core,
    CatalogCacheWarning,
    pyo3::exceptions::PyRuntimeWarning,
    "The cached price catalog could not be used; the built-in one is used instead."
);

pyo3::create_exception!(
    art_metrics._core,
    CatalogRefreshWarning,
    pyo3::exceptions::PyRuntimeWarning,
    "Entries of a refreshed price list were skipped (one warning per refresh: their count and the first names, with why)."
);

/// Emits the warning a bad cache file queued when the catalog was loaded.
fn emit_catalog_warning(py: Python<'_>) -> PyResult<()> {
    if let Some(msg) = store::take_warning() {
        warn_as(py, &py.get_type::<CatalogCacheWarning>(), &msg)?;
    }
    Ok(())
}

/// The active catalog, emitting the warning its loading may have queued. The first call
/// reads and parses the cache file, with the GIL released.
pub fn active_catalog(py: Python<'_>) -> PyResult<Arc<PriceCatalog>> {
    let catalog = match store::loaded() {
        Some(c) => c,
        None => py.detach(store::active),
    };
    emit_catalog_warning(py)?;
    Ok(catalog)
}

fn price_obj(py: Python<'_>, p: &Price) -> PyResult<Py<PyAny>> {
    Ok(match p {
        Price::Flat(v) => v.into_pyobject(py)?.into_any().unbind(),
        Price::Tiered { base, tiers } => {
            let d = PyDict::new(py);
            d.set_item("base", base)?;
            d.set_item("tiers", tiers.to_vec())?;
            d.into_any().unbind()
        }
    })
}

fn price_set_dict<'py>(py: Python<'py>, set: &PriceSet) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, p) in set.iter() {
        d.set_item(k.name(), price_obj(py, p)?)?;
    }
    Ok(d)
}

fn model_dict<'py>(
    py: Python<'py>,
    provider: &str,
    m: &Model,
    names: &[String],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("provider", provider)?;
    d.set_item("key", &m.id)?;
    d.set_item("table", &m.src)?;
    d.set_item("names", names.to_vec())?;
    let current = m.period_at(RequestTime::now());
    d.set_item("prices", price_set_dict(py, &current.prices)?)?;
    let h = current.prices.headline();
    d.set_item("prompt_per_million", h.input)?;
    d.set_item("completion_per_million", h.output)?;
    d.set_item("cache_read_per_million", h.cache_read)?;
    d.set_item("cache_creation_per_million", h.cache_write)?;
    d.set_item("cache_creation_1h_per_million", h.cache_write_1h)?;
    let tiers = PyList::empty(py);
    for t in current.prices.tiers() {
        let [input, output, cache_read, cache_write] = t.prices;
        let td = PyDict::new(py);
        td.set_item("above_tokens", t.above_tokens as i64)?;
        td.set_item("prompt_per_million", input)?;
        td.set_item("completion_per_million", output)?;
        td.set_item("cache_read_per_million", cache_read)?;
        td.set_item("cache_creation_per_million", cache_write)?;
        tiers.append(td)?;
    }
    d.set_item("tiers", tiers)?;
    let periods = PyList::empty(py);
    for p in &m.periods {
        let pd = price_set_dict(py, &p.prices)?;
        if let Some(date) = p.when.start_date() {
            pd.set_item("from", date)?;
        }
        if let Some(hours) = p.when.utc_hours() {
            pd.set_item("utc", hours)?;
        }
        periods.append(pd)?;
    }
    d.set_item("periods", periods)?;
    let variants = PyList::empty(py);
    for v in &m.variants {
        let vd = price_set_dict(py, &v.prices)?;
        vd.set_item(
            "when",
            PyDict::from_sequence(&v.when.clone().into_pyobject(py)?)?,
        )?;
        variants.append(vd)?;
    }
    d.set_item("variants", variants)?;
    Ok(d)
}

/// The catalog's model for `model` under `provider`, as a dict; `ValueError` (naming the
/// nearest names) when unknown.
#[pyfunction]
pub fn _lookup<'py>(
    py: Python<'py>,
    provider: &Bound<'py, PyAny>,
    model_name: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let provider = provider_name(str_arg(provider, "provider")?).map_err(to_py)?;
    let model =
        art_metrics_core::pricing::model_name(str_arg(model_name, "model_name")?).map_err(to_py)?;
    let catalog = active_catalog(py)?;
    let found = catalog.resolve(&provider, model).map_err(to_py)?;
    let names: Vec<String> = found.model.all_names().collect();
    model_dict(py, &found.provider, &found.model, &names)
}

/// Every model of the active catalog with the names that resolve to it (for "what changed").
#[pyfunction]
pub fn _catalog_entries(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let catalog = active_catalog(py)?;
    let out = PyList::empty(py);
    for (provider, model, names) in catalog.entries() {
        out.append(model_dict(py, &provider, &model, &names)?)?;
    }
    Ok(out)
}

fn info_dict<'py>(py: Python<'py>, c: &PriceCatalog) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let primary = c.sources.first();
    d.set_item("source", primary.map(|s| s.name.as_str()))?;
    d.set_item("version", primary.map(|s| s.version.as_str()))?;
    let sources = PyList::empty(py);
    for s in &c.sources {
        let sd = PyDict::new(py);
        sd.set_item("name", &s.name)?;
        sd.set_item("version", &s.version)?;
        sd.set_item("url", &s.url)?;
        sources.append(sd)?;
    }
    d.set_item("sources", sources)?;
    d.set_item("sha256", &c.sha256)?;
    let (origin, path, url, format, fetched_at) = match &c.origin {
        PriceOrigin::Builtin => ("builtin", None, None, None, None),
        PriceOrigin::Cache {
            path,
            url,
            format,
            fetched_at,
        } => (
            "cache",
            Some(path.as_str()),
            Some(url.as_str()),
            Some(format.as_str()),
            Some(fetched_at.as_str()),
        ),
    };
    d.set_item("origin", origin)?;
    d.set_item("path", path)?;
    d.set_item("url", url)?;
    d.set_item("format", format)?;
    d.set_item("fetched_at", fetched_at)?;
    d.set_item(
        "models",
        PyDict::from_sequence(&c.counts().into_pyobject(py)?)?,
    )?;
    d.set_item("names", c.name_count())?;
    Ok(d)
}

/// Source, version and origin of the active catalog.
#[pyfunction]
pub fn _catalog_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let catalog = active_catalog(py)?;
    info_dict(py, &catalog)
}

/// How far `refresh_catalog` has read its price list: pass one as ``progress=`` and read
/// `received` and `total` (bytes; `total` is None while unknown) from another thread.
#[pyclass(frozen, module = "art_metrics._core")]
#[derive(Default)]
pub struct DownloadProgress(Arc<refresh::Progress>);

#[pymethods]
impl DownloadProgress {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Bytes read so far.
    #[getter]
    fn received(&self) -> u64 {
        self.0.received()
    }

    /// The announced length in bytes (`Content-Length`, a file's size), or None.
    #[getter]
    fn total(&self) -> Option<u64> {
        self.0.total()
    }

    fn __repr__(&self) -> String {
        match self.0.total() {
            Some(total) => format!("DownloadProgress({} of {total} bytes)", self.0.received()),
            None => format!("DownloadProgress({} bytes)", self.0.received()),
        }
    }
}

/// Reads, validates, merges, caches and activates a price list (GIL released meanwhile),
/// counting the bytes into `progress`; with `package_data` (an installed genai-prices'
/// data, read by `pricing.py`), that list, `source` saying where it came from. Errors name
/// the options as the command line spells them with `cli`. The skipped entries are one
/// warning (the core's summary line); the result is `catalog_info()` plus `changes`.
#[pyfunction]
#[pyo3(signature = (source, timeout, allow_insecure, progress=None, package_data=None, cli=false))]
pub fn _refresh_catalog<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
    timeout: &Bound<'py, PyAny>,
    allow_insecure: bool,
    progress: Option<&Bound<'py, PyAny>>,
    package_data: Option<Vec<u8>>,
    cli: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let names = match cli {
        true => refresh::OptionNames::CLI,
        false => refresh::OptionNames::API,
    };
    let source = str_arg(source, "source")?.to_owned();
    let timeout =
        refresh::timeout_from_secs(seconds_arg(timeout, names.timeout)?, names).map_err(to_py)?;
    let progress = match progress.filter(|p| !p.is_none()) {
        None => Arc::default(),
        Some(p) => match p.cast::<DownloadProgress>() {
            Ok(p) => Arc::clone(&p.get().0),
            Err(_) => {
                return Err(CoreError::InvalidType(format!(
                    "progress must be a DownloadProgress or None, got {}",
                    type_name(p)
                ))
                .to_py());
            }
        },
    };
    let refreshed = py
        .detach(|| match &package_data {
            Some(data) => refresh::refresh_from_data(data, &source),
            None => refresh::refresh(&source, timeout, allow_insecure, names, &progress),
        })
        .map_err(to_py)?;
    let changes = &refreshed.changes;
    if let Some(line) = changes.skipped_summary() {
        warn_as(py, &py.get_type::<CatalogRefreshWarning>(), &line)?;
    }
    let info = info_dict(py, &refreshed.catalog)?;
    info.set_item("changes", changes_dict(py, changes)?)?;
    Ok(info)
}

/// `CatalogChanges` as a dict: `models_before`/`models_after` (per provider), `added` and
/// `removed` (`provider/id`), `changed` (`provider/id` -> term -> `(old, new)`, a price or
/// None), `changed_conditional` (`provider/id` -> period or variant label -> term ->
/// `(old, new)`), `kept` (`provider/id` -> the terms kept from the model it replaced),
/// `skipped` and `skipped_summary`.
fn changes_dict<'py>(py: Python<'py>, c: &CatalogChanges) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("models_before", c.models_before.clone())?;
    d.set_item("models_after", c.models_after.clone())?;
    d.set_item("added", c.added.clone())?;
    d.set_item("removed", c.removed.clone())?;
    let price = |p: &Option<Price>| -> PyResult<Py<PyAny>> {
        match p {
            Some(p) => price_obj(py, p),
            None => Ok(py.None()),
        }
    };
    let changed = PyDict::new(py);
    for (id, terms) in &c.changed {
        let td = PyDict::new(py);
        for (key, old, new) in terms {
            td.set_item(key.name(), (price(old)?, price(new)?))?;
        }
        changed.set_item(id, td)?;
    }
    d.set_item("changed", changed)?;
    let conditional = PyDict::new(py);
    for (id, changes) in &c.changed_conditional {
        let by_label = PyDict::new(py);
        for (label, key, old, new) in changes {
            let terms = if let Some(terms) = by_label.get_item(label)? {
                terms.cast_into::<PyDict>()?
            } else {
                let terms = PyDict::new(py);
                by_label.set_item(label, &terms)?;
                terms
            };
            terms.set_item(key.name(), (price(old)?, price(new)?))?;
        }
        conditional.set_item(id, by_label)?;
    }
    d.set_item("changed_conditional", conditional)?;
    let kept = PyDict::new(py);
    for (id, keys) in &c.kept {
        let names: Vec<&str> = keys.iter().map(|k| k.name()).collect();
        kept.set_item(id, names)?;
    }
    d.set_item("kept", kept)?;
    d.set_item("skipped", c.skipped.clone())?;
    d.set_item("skipped_summary", c.skipped_summary())?;
    Ok(d)
}

/// A number of seconds: anything `float()` takes but a str or bytes; an int too large for
/// a float is infinite (refused by the core's range check, by name).
fn seconds_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<f64> {
    if obj.is_instance_of::<PyInt>() {
        return Ok(obj.extract::<f64>().unwrap_or(f64::INFINITY));
    }
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(not_seconds(obj, what));
    }
    obj.extract::<f64>().map_err(|_| not_seconds(obj, what))
}

fn not_seconds(obj: &Bound<'_, PyAny>, what: &str) -> PyErr {
    CoreError::InvalidType(format!(
        "{what} must be a number of seconds, got {}: {}",
        type_name(obj),
        short_repr(obj)
    ))
    .to_py()
}

/// Loads the catalog again from the cache directory (the built-in one when there is none),
/// reading the file with the GIL released.
#[pyfunction]
pub fn _reload_catalog(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let catalog = py.detach(store::reload);
    emit_catalog_warning(py)?;
    info_dict(py, &catalog)
}

/// Where `refresh_catalog` caches the price map (None when no cache directory is known).
#[pyfunction]
pub fn _catalog_cache_path() -> Option<String> {
    store::cache_file().map(|p| p.display().to_string())
}

/// genai-prices' data file at a pinned release, the default of `refresh_catalog`.
pub const DEFAULT_URL: &str = refresh::DEFAULT_URL;
