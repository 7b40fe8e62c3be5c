//! Bindings for pricing: `CostTracker` (what `@track_api_cost` records through) and
//! `BuilderCore.add_response_cost`'s body.
//!
//! The resolution order lives here only because step 2 calls a Python extractor:
//! reported cost → extractor → token prices (all rules in `crate::pricing`).

use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString};

use super::builder::BuilderCore;
use super::catalog::active_catalog;
use super::convert::{short_repr, str_arg, type_name};
use super::response::read_response;
use crate::pricing::catalog::ModelPrices;
use crate::pricing::{
    Formula, Overrides, ResponseFields, normalize_model_name, normalize_provider, normalize_source,
    store, token_cost,
};

/// A price override: `None`, or an int/float (bools and strs are refused, by name).
fn price_arg(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<f64>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    number(obj).map(Some).ok_or_else(|| {
        PyValueError::new_err(format!(
            "{name} must be a number (USD per million tokens), got {}: {}",
            type_name(obj),
            short_repr(obj)
        ))
    })
}

/// An int, float or other `__float__` number that is not a bool, str or bytes.
fn number(obj: &Bound<'_, PyAny>) -> Option<f64> {
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Some(f.value());
    }
    if obj.is_instance_of::<PyBool>()
        || obj.is_instance_of::<PyString>()
        || obj.is_instance_of::<PyBytes>()
    {
        return None;
    }
    if obj.is_instance_of::<PyInt>() || obj.hasattr("__float__").unwrap_or(false) {
        return obj.extract::<f64>().ok();
    }
    None
}

fn overrides_arg(args: [Option<&Bound<'_, PyAny>>; 5]) -> PyResult<Overrides> {
    let [
        prompt,
        completion,
        cached_prompt,
        cache_creation,
        cache_read,
    ] = args;
    let o = Overrides {
        prompt: price_arg(prompt, "prompt_price_per_million")?,
        completion: price_arg(completion, "completion_price_per_million")?,
        cached_prompt: price_arg(cached_prompt, "cached_prompt_price_per_million")?,
        cache_creation: price_arg(cache_creation, "cache_creation_price_per_million")?,
        cache_read: price_arg(cache_read, "cache_read_price_per_million")?,
    };
    o.validate()?;
    Ok(o)
}

fn required<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<&'a str> {
    str_arg(obj, what)
}

/// Where a call's catalog prices come from: resolved now, or cached in a tracker.
enum CatalogPrices<'a> {
    Resolve,
    Cached(&'a CostTracker),
}

/// The resolution order for one response; returns the cost in US dollars.
fn price_response(
    builder: &BuilderCore,
    response: &Bound<'_, PyAny>,
    provider: &str,
    model: &str,
    overrides: &Overrides,
    catalog: CatalogPrices<'_>,
) -> PyResult<f64> {
    let py = response.py();
    let formula = Formula::of(provider);
    let mut fields = ResponseFields::default();
    read_response(response, formula, &mut fields)?;
    if let Some(cost) = fields.reported_cost()? {
        return Ok(cost);
    }
    let extractor = builder.cost_extractor(py, provider);
    if let Some(extractor) = extractor {
        let result = extractor.bind(py).call1((response,))?;
        if !result.is_none() {
            return match number(&result) {
                Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
                _ => Err(PyValueError::new_err(format!(
                    "The cost extractor for provider '{provider}' must return a finite \
                     non-negative number or None, got {}: {}",
                    type_name(&result),
                    short_repr(&result)
                ))),
            };
        }
    }
    let model = normalize_model_name(model)
        .ok_or_else(|| PyValueError::new_err("model_name must be non-empty"))?;
    let registered = builder.core.registered_pricing(model);
    let prices = match (registered, catalog) {
        (Some(_), _) => None,
        (None, CatalogPrices::Resolve) => active_catalog(py)?.resolve(formula, model),
        (None, CatalogPrices::Cached(t)) => t.catalog_prices(py)?,
    };
    Ok(token_cost(
        provider,
        model,
        registered,
        prices.as_deref(),
        overrides,
        &fields,
    )?)
}

/// The key a cost of `source` goes to on `builder`: `costs/<cost_context>/<source>`.
fn cost_key(builder: &BuilderCore, source: &str) -> PyResult<String> {
    Ok(crate::metrics::keys::cost_key(&format!(
        "{}/{source}",
        builder.core.cost_context()
    ))?)
}

/// The body of `BuilderCore.add_response_cost`.
pub fn add_response_cost(
    builder: &BuilderCore,
    source: &Bound<'_, PyAny>,
    response: &Bound<'_, PyAny>,
    provider: &Bound<'_, PyAny>,
    model_name: &Bound<'_, PyAny>,
    prices: [Option<&Bound<'_, PyAny>>; 5],
) -> PyResult<f64> {
    let source = normalize_source(required(source, "source")?)
        .ok_or_else(|| PyValueError::new_err("source must be non-empty"))?;
    let provider = normalize_provider(required(provider, "provider")?)
        .ok_or_else(|| PyValueError::new_err("provider must be non-empty"))?;
    let model = required(model_name, "model_name")?;
    let overrides = overrides_arg(prices)?;
    let cost = price_response(
        builder,
        response,
        &provider,
        model,
        &overrides,
        CatalogPrices::Resolve,
    )?;
    builder.core.add_metric(&cost_key(builder, source)?, cost)?;
    Ok(cost)
}

/// Everything `@track_api_cost` checked and resolved when it was applied.
#[pyclass(frozen, module = "art_metrics._core")]
pub struct CostTracker {
    source: String,
    provider: String,
    model: String,
    formula: Formula,
    overrides: Overrides,
    response_getter: Option<Py<PyAny>>,
    /// The catalog's prices for `model`, with the catalog generation they came from.
    cached: Mutex<Option<(u64, Option<Arc<ModelPrices>>)>>,
    /// The last cost context recorded into, and its key (most trackers see one or two).
    last_key: Mutex<Option<(String, Arc<str>)>>,
}

impl CostTracker {
    fn catalog_prices(&self, py: Python<'_>) -> PyResult<Option<Arc<ModelPrices>>> {
        let generation = store::generation();
        if let Some((g, prices)) = self.cached.lock().as_ref()
            && *g == generation
        {
            return Ok(prices.clone());
        }
        let prices = active_catalog(py)?.resolve(self.formula, &self.model);
        *self.cached.lock() = Some((generation, prices.clone()));
        Ok(prices)
    }
}

#[pymethods]
impl CostTracker {
    #[new]
    #[pyo3(signature = (*, source, provider, model_name, response_getter=None,
        prompt_price_per_million=None, completion_price_per_million=None,
        cached_prompt_price_per_million=None, cache_creation_price_per_million=None,
        cache_read_price_per_million=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        source: &Bound<'_, PyAny>,
        provider: &Bound<'_, PyAny>,
        model_name: &Bound<'_, PyAny>,
        response_getter: Option<Bound<'_, PyAny>>,
        prompt_price_per_million: Option<&Bound<'_, PyAny>>,
        completion_price_per_million: Option<&Bound<'_, PyAny>>,
        cached_prompt_price_per_million: Option<&Bound<'_, PyAny>>,
        cache_creation_price_per_million: Option<&Bound<'_, PyAny>>,
        cache_read_price_per_million: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        // Checked in the reference's order, with its messages.
        let source = normalize_source(required(source, "source")?)
            .ok_or_else(|| PyValueError::new_err("source must be non-empty"))?;
        let provider = normalize_provider(required(provider, "provider")?)
            .ok_or_else(|| PyValueError::new_err("provider must be non-empty"))?;
        let model = normalize_model_name(required(model_name, "model_name")?)
            .ok_or_else(|| PyValueError::new_err("model_name must be non-empty"))?;
        let overrides = overrides_arg([
            prompt_price_per_million,
            completion_price_per_million,
            cached_prompt_price_per_million,
            cache_creation_price_per_million,
            cache_read_price_per_million,
        ])?;
        let response_getter = match response_getter.filter(|g| !g.is_none()) {
            Some(g) if !g.is_callable() => {
                return Err(PyTypeError::new_err(format!(
                    "response_getter must be callable, got {}",
                    type_name(&g)
                )));
            }
            g => g.map(Bound::unbind),
        };
        Ok(CostTracker {
            source: source.to_owned(),
            formula: Formula::of(&provider),
            provider,
            model: model.to_owned(),
            overrides,
            response_getter,
            cached: Mutex::new(None),
            last_key: Mutex::new(None),
        })
    }

    #[getter]
    fn source(&self) -> &str {
        &self.source
    }

    #[getter]
    fn provider(&self) -> &str {
        &self.provider
    }

    #[getter]
    fn model_name(&self) -> &str {
        &self.model
    }

    /// Prices `result` (through `response_getter`, if any) and records it on `builder`.
    pub fn record(
        &self,
        builder: &Bound<'_, BuilderCore>,
        result: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = result.py();
        let builder = builder.get();
        let cost = match &self.response_getter {
            Some(getter) => {
                let response = getter.bind(py).call1((result,))?;
                self.price(builder, &response)?
            }
            None => self.price(builder, result)?,
        };
        builder
            .core
            .add_metric_prevalidated(&self.key_for(builder)?, cost)?;
        Ok(())
    }
}

impl CostTracker {
    fn key_for(&self, builder: &BuilderCore) -> PyResult<Arc<str>> {
        let context = builder.core.cost_context();
        let mut last = self.last_key.lock();
        if let Some((c, key)) = last.as_ref()
            && c == context
        {
            return Ok(Arc::clone(key));
        }
        let key = cost_key(builder, &self.source)?;
        crate::metrics::keys::validate(&key)?;
        let key: Arc<str> = key.into();
        *last = Some((context.to_owned(), Arc::clone(&key)));
        Ok(key)
    }

    fn price(&self, builder: &BuilderCore, response: &Bound<'_, PyAny>) -> PyResult<f64> {
        price_response(
            builder,
            response,
            &self.provider,
            &self.model,
            &self.overrides,
            CatalogPrices::Cached(self),
        )
    }
}
