//! The catalog functions behind `art_metrics.pricing`, and the warning for a bad cache file.

use std::ffi::CString;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyList, PyString};

use super::convert::{short_repr, str_arg, type_name};
use crate::error::CoreError;
use crate::pricing::catalog::{ModelPrices, PriceCatalog, PriceOrigin};
use crate::pricing::{Formula, no_pricing_error, provider_name, refresh, store};

pyo3::create_exception!(
    art_metrics._core,
    CatalogCacheWarning,
    pyo3::exceptions::PyRuntimeWarning,
    "The cached price catalog could not be used; the built-in one is used instead."
);

/// Emits the warning a bad cache file queued when the catalog was loaded.
fn emit_catalog_warning(py: Python<'_>) -> PyResult<()> {
    if let Some(msg) = store::take_warning() {
        let msg = CString::new(msg.replace('\0', " ")).unwrap_or_default();
        PyErr::warn(py, &py.get_type::<CatalogCacheWarning>(), &msg, 2)?;
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

fn prices_dict<'py>(py: Python<'py>, p: &ModelPrices) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("key", &p.key)?;
    d.set_item("table", p.table)?;
    d.set_item("prompt_per_million", p.base.prompt_per_million)?;
    d.set_item("completion_per_million", p.base.completion_per_million)?;
    d.set_item(
        "cached_prompt_per_million",
        p.base.cached_prompt_per_million,
    )?;
    d.set_item(
        "cache_creation_per_million",
        p.base.cache_creation_per_million,
    )?;
    d.set_item("cache_read_per_million", p.base.cache_read_per_million)?;
    d.set_item(
        "cache_creation_1h_per_million",
        p.cache_creation_1h_per_million,
    )?;
    let tiers = PyList::empty(py);
    for t in &p.tiers {
        let td = PyDict::new(py);
        td.set_item("above_tokens", t.above_tokens as u64)?;
        td.set_item("prompt_per_million", t.prompt)?;
        td.set_item("completion_per_million", t.completion)?;
        td.set_item("cache_read_per_million", t.cache_read)?;
        td.set_item("cache_creation_per_million", t.cache_creation)?;
        tiers.append(td)?;
    }
    d.set_item("tiers", tiers)?;
    Ok(d)
}

/// The catalog's prices of `model` for `provider`, as a dict; `ValueError` when unknown.
#[pyfunction]
pub fn _lookup<'py>(
    py: Python<'py>,
    provider: &Bound<'py, PyAny>,
    model_name: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let provider = provider_name(str_arg(provider, "provider")?)?;
    let model = crate::pricing::model_name(str_arg(model_name, "model_name")?)?;
    let catalog = active_catalog(py)?;
    match catalog.resolve(Formula::of(&provider), model) {
        Some(p) => prices_dict(py, &p),
        None => Err(no_pricing_error(model).into()),
    }
}

fn info_dict<'py>(py: Python<'py>, c: &PriceCatalog) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("source", &c.source)?;
    d.set_item("version", &c.source_version)?;
    d.set_item("generated_at", &c.generated_at)?;
    d.set_item("sha256", &c.sha256)?;
    let (origin, path, url) = match &c.origin {
        PriceOrigin::Builtin => ("builtin", None, None),
        PriceOrigin::Cache { path, url, .. } => ("cache", Some(path.as_str()), Some(url.as_str())),
    };
    d.set_item("origin", origin)?;
    d.set_item("path", path)?;
    d.set_item("url", url)?;
    d.set_item(
        "models",
        PyDict::from_sequence(&c.counts.clone().into_pyobject(py)?)?,
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

/// Downloads, validates, caches and activates a litellm price map (GIL released meanwhile).
#[pyfunction]
#[pyo3(signature = (url, timeout))]
pub fn _refresh_catalog<'py>(
    py: Python<'py>,
    url: &Bound<'py, PyAny>,
    timeout: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let url = str_arg(url, "url")?.to_owned();
    let timeout = refresh::timeout_from_secs(seconds_arg(timeout, "timeout")?)?;
    let catalog = py.detach(|| refresh::refresh(&url, timeout))?;
    info_dict(py, &catalog)
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
    .into()
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

/// litellm's maintained price map, the default of `refresh_catalog`.
pub const DEFAULT_URL: &str = refresh::DEFAULT_URL;
