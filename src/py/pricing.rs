//! Bindings for pricing: `CostTracker` (what `@track_api_cost` records through) and
//! `BuilderCore.add_response_cost`'s body. They read the Python response and arguments and
//! call the core's resolution order (`crate::pricing::order`), handing it the extractor,
//! the registry and the catalog as closures.

use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;

use super::builder::BuilderCore;
use super::catalog::active_catalog;
use super::convert::{price_arg, price_number, short_repr, str_arg, type_name};
use super::response::read_response;
use crate::error::CoreError;
use crate::pricing::catalog::ModelPrices;
use crate::pricing::{
    ExtractedCost, Formula, Overrides, PriceCall, ResponseFields, cost_source, provider_name,
    response_cost, store,
};

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

/// Where a call's catalog prices come from: resolved now, or cached in a tracker.
enum CatalogPrices<'a> {
    Resolve,
    Cached(&'a CostTracker),
}

/// What a Python cost extractor returned, read for the core's check.
struct Extracted<'py>(Bound<'py, PyAny>);

impl ExtractedCost for Extracted<'_> {
    fn number(&self) -> Option<f64> {
        price_number(&self.0)
    }

    fn describe(&self) -> String {
        format!("{}: {}", type_name(&self.0), short_repr(&self.0))
    }
}

/// Reads `response` and prices it in the core's resolution order.
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
    let extractor = || -> PyResult<Option<Extracted<'_>>> {
        let Some(extractor) = builder.cost_extractor(py, provider) else {
            return Ok(None);
        };
        let result = extractor.bind(py).call1((response,))?;
        Ok((!result.is_none()).then_some(Extracted(result)))
    };
    response_cost(
        PriceCall {
            provider,
            model,
            overrides,
        },
        &fields,
        extractor,
        |model| builder.core.registered_pricing(model),
        |model| match catalog {
            CatalogPrices::Resolve => Ok(active_catalog(py)?.resolve(formula, model)),
            CatalogPrices::Cached(t) => t.catalog_prices(py),
        },
    )
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
    let source = cost_source(str_arg(source, "source")?)?;
    let provider = provider_name(str_arg(provider, "provider")?)?;
    let model = str_arg(model_name, "model_name")?;
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
        let source = cost_source(str_arg(source, "source")?)?;
        let provider = provider_name(str_arg(provider, "provider")?)?;
        let model = crate::pricing::model_name(str_arg(model_name, "model_name")?)?;
        let overrides = overrides_arg([
            prompt_price_per_million,
            completion_price_per_million,
            cached_prompt_price_per_million,
            cache_creation_price_per_million,
            cache_read_price_per_million,
        ])?;
        let response_getter = match response_getter.filter(|g| !g.is_none()) {
            Some(g) if !g.is_callable() => {
                return Err(CoreError::InvalidType(format!(
                    "response_getter must be callable, got {}",
                    type_name(&g)
                ))
                .into());
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

    // The response getter is the only Python object held; immutable (frozen class), so
    // there is no `__clear__` (see `TrackedFunction::__traverse__`).
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.response_getter)
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
        let cost = match &self.response_getter {
            Some(getter) => {
                let response = getter.bind(py).call1((result,))?;
                self.price(builder.get(), &response)?
            }
            None => self.price(builder.get(), result)?,
        };
        let core = builder;
        let builder = core.get();
        builder
            .core
            .add_metric_prevalidated(&self.key_for(builder)?, cost)?;
        super::budget::after_cost(py, core.as_any(), &builder.core, Some(result))
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
