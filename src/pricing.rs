//! Bindings for pricing: `CostTracker` (what `@track_api_cost` records through) and
//! `BuilderCore.add_response_cost`'s body. They read the Python response and arguments and
//! call the core's resolution order (`art_metrics_core::pricing::order`), handing it the extractor,
//! the registry and the catalog as closures.

use crate::errors::{ToPyErr, to_py};
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyString};

use crate::calls::PricedCall;
use crate::catalog::active_catalog;
use crate::convert::{price_arg, price_number, short_repr, str_arg, type_name};
use crate::extractors::CostExtractors;
use crate::response::read_response;
use art_metrics_core::error::{CoreError, CoreResult};
use art_metrics_core::metrics::Builder;
use art_metrics_core::pricing::order::{OnUnpriced, Returned, UNPRICED_CALLS_KEY};
use art_metrics_core::pricing::{
    ExtractedCost, Formula, Model, Overrides, PriceCall, ResponseFields, cost_source,
    provider_name, response_cost, store,
};

pyo3::create_exception!(
    art_metrics._core,
    CostTrackingWarning,
    pyo3::exceptions::PyRuntimeWarning,
    "A tracked call's cost was not recorded: no active builder, or no price for its model."
);

fn warn(py: Python<'_>, msg: &str) -> PyResult<()> {
    crate::notices::warn_as(py, &py.get_type::<CostTrackingWarning>(), msg)
}

/// What pricing needs of a builder: its core handle and the run's cost extractors (the
/// `BuilderCore` pyclass hands them out, so this module does not depend on it).
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub core: &'a Builder,
    pub extractors: &'a CostExtractors,
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
    o.validate().map_err(to_py)?;
    Ok(o)
}

/// Where a call's catalog prices come from: resolved now, or cached in a tracker.
enum CatalogPrices<'a> {
    Resolve,
    Cached(&'a CostTracker),
}

/// The catalog's model for a call: resolved now, or borrowed from a tracker's cache.
enum CatalogModel<'a> {
    Resolved(Arc<Model>),
    Cached(&'a Model),
}

impl Deref for CatalogModel<'_> {
    type Target = Model;

    fn deref(&self) -> &Model {
        match self {
            CatalogModel::Resolved(m) => m,
            CatalogModel::Cached(m) => m,
        }
    }
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

/// One call's pricing arguments, as checked.
struct Call<'a> {
    source: &'a str,
    provider: &'a str,
    formula: Formula,
    model: &'a str,
    overrides: &'a Overrides,
    batch: bool,
}

/// The type name of a value that cannot be an API response (`None`, a string, bytes, a
/// number), for the core's "no API response" error; `None` for anything else.
fn not_a_response(obj: &Bound<'_, PyAny>) -> Option<String> {
    let scalar = obj.is_none()
        || obj.is_instance_of::<PyString>()
        || obj.is_instance_of::<PyBytes>()
        || obj.is_instance_of::<PyInt>()
        || obj.is_instance_of::<PyFloat>();
    scalar.then(|| type_name(obj))
}

/// Reads `response` and prices it in the core's resolution order; `tracked` when a
/// decorated function returned it.
fn price_response(
    builder: Target<'_>,
    response: &Bound<'_, PyAny>,
    call: Call<'_>,
    catalog: CatalogPrices<'_>,
    tracked: bool,
) -> Result<f64, Failure> {
    let py = response.py();
    let Call {
        source,
        provider,
        formula,
        model,
        overrides,
        batch,
    } = call;
    let mut fields = ResponseFields::default();
    read_response(response, formula, &mut fields)?;
    // Only looked at when the response carries no usage (the hot path skips it).
    let type_name = match fields.carries_usage() {
        true => None,
        false => not_a_response(response),
    };
    let returned = match &type_name {
        Some(t) => Returned::NotAResponse {
            type_name: t,
            tracked,
        },
        None => Returned::Response,
    };
    let extractor = || -> Result<Option<Extracted<'_>>, Failure> {
        let Some(extractor) = builder.extractors.get(py, provider) else {
            return Ok(None);
        };
        let result = extractor.bind(py).call1((response,))?;
        Ok((!result.is_none()).then_some(Extracted(result)))
    };
    let cost = response_cost(
        PriceCall {
            provider,
            formula,
            model,
            overrides,
            batch,
        },
        &fields,
        returned,
        extractor,
        |model| builder.core.registered_pricing(model),
        |model| match catalog {
            CatalogPrices::Resolve => Ok(active_catalog(py)?
                .resolve(provider, model)
                .map(|f| CatalogModel::Resolved(f.model))),
            CatalogPrices::Cached(t) => Ok(t.catalog_prices(py)?),
        },
    )?;
    if builder.core.reports_calls() {
        let call = PricedCall {
            source,
            provider,
            model,
            formula,
            cost_usd: cost,
        };
        crate::calls::report(py, builder, &call, &fields)?;
    }
    Ok(cost)
}

/// The body of `BuilderCore.add_response_cost`.
pub fn add_response_cost(
    builder: Target<'_>,
    source: &Bound<'_, PyAny>,
    response: &Bound<'_, PyAny>,
    provider: &Bound<'_, PyAny>,
    model_name: &Bound<'_, PyAny>,
    prices: [Option<&Bound<'_, PyAny>>; 5],
    batch: bool,
) -> PyResult<f64> {
    let py = response.py();
    let source = cost_source(str_arg(source, "source")?).map_err(to_py)?;
    let provider = provider_name(str_arg(provider, "provider")?).map_err(to_py)?;
    let catalog = active_catalog(py)?;
    catalog
        .check_provider(&provider, || {
            builder.extractors.get(py, &provider).is_some()
        })
        .map_err(to_py)?;
    let model = str_arg(model_name, "model_name")?;
    let overrides = overrides_arg(prices)?;
    let formula = catalog.formula(&provider);
    let call = Call {
        source,
        provider: &provider,
        formula,
        model,
        overrides: &overrides,
        batch,
    };
    let cost = price_response(builder, response, call, CatalogPrices::Resolve, false)?;
    builder
        .core
        .add_metric(&builder.core.source_cost_key(source).map_err(to_py)?, cost)
        .map_err(to_py)?;
    Ok(cost)
}

/// Why a call was not priced: the core's error (kept, to tell an unpriced model apart), or
/// one raised by Python code (an extractor, a response getter).
pub enum Failure {
    Core(CoreError),
    Py(PyErr),
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        Failure::Core(e)
    }
}

impl From<PyErr> for Failure {
    fn from(e: PyErr) -> Self {
        Failure::Py(e)
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Core(e) => e.to_py(),
            Failure::Py(e) => e,
        }
    }
}

/// Everything `@track_api_cost` checked and resolved when it was applied.
#[pyclass(frozen, module = "art_metrics._core")]
pub struct CostTracker {
    source: String,
    provider: String,
    model: String,
    formula: Formula,
    overrides: Overrides,
    batch: bool,
    on_unpriced: OnUnpriced,
    response_getter: Option<Py<PyAny>>,
    /// The catalog's model for `model` (or why there is none), with the catalog generation
    /// it came from: the first one resolved, read without a lock or a reference count
    /// (issue #20), and the newest one, when the catalog changed since.
    first: OnceLock<(u64, CoreResult<Arc<Model>>)>,
    cached: Mutex<Option<(u64, CoreResult<Arc<Model>>)>>,
    /// Warned once already: no active builder; no price for the model.
    warned_no_builder: AtomicBool,
    warned_unpriced: AtomicBool,
    /// The first cost context recorded into and its key, read without a lock (most trackers
    /// see one context), and the last other one, behind the lock (issue #20).
    first_key: OnceLock<(String, String)>,
    last_key: Mutex<Option<(String, String)>>,
}

impl CostTracker {
    fn catalog_prices(&self, py: Python<'_>) -> PyResult<CoreResult<CatalogModel<'_>>> {
        let generation = store::generation();
        if let Some((g, prices)) = self.first.get()
            && *g == generation
        {
            return Ok(prices
                .as_ref()
                .map(|m| CatalogModel::Cached(m))
                .map_err(Clone::clone));
        }
        if let Some((g, prices)) = self.cached.lock().as_ref()
            && *g == generation
        {
            return Ok(prices.clone().map(CatalogModel::Resolved));
        }
        let prices = active_catalog(py)?
            .resolve(&self.provider, &self.model)
            .map(|f| f.model);
        // Kept as the first when none is yet; else (the catalog changed) as the newest.
        if let Err((generation, prices)) = self.first.set((generation, prices.clone())) {
            *self.cached.lock() = Some((generation, prices));
        }
        Ok(prices.map(CatalogModel::Resolved))
    }
}

#[pymethods]
impl CostTracker {
    #[new]
    #[pyo3(signature = (*, source, provider, model_name, response_getter=None,
        prompt_price_per_million=None, completion_price_per_million=None,
        cached_prompt_price_per_million=None, cache_creation_price_per_million=None,
        cache_read_price_per_million=None, batch=false, on_unpriced=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        provider: &Bound<'_, PyAny>,
        model_name: &Bound<'_, PyAny>,
        response_getter: Option<Bound<'_, PyAny>>,
        prompt_price_per_million: Option<&Bound<'_, PyAny>>,
        completion_price_per_million: Option<&Bound<'_, PyAny>>,
        cached_prompt_price_per_million: Option<&Bound<'_, PyAny>>,
        cache_creation_price_per_million: Option<&Bound<'_, PyAny>>,
        cache_read_price_per_million: Option<&Bound<'_, PyAny>>,
        batch: bool,
        on_unpriced: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        // Checked in the reference's order, with its messages.
        let source = cost_source(str_arg(source, "source")?).map_err(to_py)?;
        let provider = provider_name(str_arg(provider, "provider")?).map_err(to_py)?;
        // No builder yet: an extractor registered later cannot excuse a misspelling.
        active_catalog(py)?
            .check_provider(&provider, || false)
            .map_err(to_py)?;
        let model = art_metrics_core::pricing::model_name(str_arg(model_name, "model_name")?)
            .map_err(to_py)?;
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
                .to_py());
            }
            g => g.map(Bound::unbind),
        };
        let on_unpriced = match on_unpriced {
            Some(v) => OnUnpriced::parse(str_arg(v, "on_unpriced")?).map_err(to_py)?,
            None => OnUnpriced::Raise,
        };
        Ok(CostTracker {
            source: source.to_owned(),
            formula: active_catalog(py)?.formula(&provider),
            provider,
            model: model.to_owned(),
            overrides,
            batch,
            on_unpriced,
            response_getter,
            first: OnceLock::new(),
            cached: Mutex::new(None),
            warned_no_builder: AtomicBool::new(false),
            warned_unpriced: AtomicBool::new(false),
            first_key: OnceLock::new(),
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

    /// Warns, once per tracker, that a call ran with no active builder (nothing recorded).
    pub fn warn_no_builder(&self, py: Python<'_>) -> PyResult<()> {
        if self.warned_no_builder.swap(true, Ordering::Relaxed) {
            return Ok(());
        }
        warn(
            py,
            &format!(
                "A call tracked under '{}' ({}, {}) ran with no active MetricsBuilder: its \
                 cost was not recorded. Activate one with MetricsBuilder.activate_context().",
                self.source, self.provider, self.model
            ),
        )
    }
}

impl CostTracker {
    /// Prices `result` (through `response_getter`, if any) and records it on `builder`.
    /// With `on_unpriced="warn"`, a call whose model has no price is counted in
    /// `data/step_unpriced_calls` instead (and the model named in a warning, once).
    /// `obj` is the builder's Python object (for the spend guard's handler).
    pub fn record(
        &self,
        builder: Target<'_>,
        obj: &Bound<'_, PyAny>,
        result: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = result.py();
        let priced = match &self.response_getter {
            Some(getter) => {
                let response = getter.bind(py).call1((result,))?;
                self.price(builder, &response)
            }
            None => self.price(builder, result),
        };
        let cost = match priced {
            Ok(cost) => cost,
            Err(Failure::Core(CoreError::Unpriced(reason))) => {
                let Some(notice) = self.on_unpriced.counted_instead(&self.source, &reason) else {
                    return Err(CoreError::Unpriced(reason).to_py());
                };
                builder
                    .core
                    .add_metric(UNPRICED_CALLS_KEY, 1.0)
                    .map_err(to_py)?;
                if !self.warned_unpriced.swap(true, Ordering::Relaxed) {
                    warn(py, &notice)?;
                }
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        self.add_cost(builder, cost)?;
        crate::budget::after_cost(py, obj, builder.core, Some(result))
    }

    /// Adds `cost` under this tracker's key in the builder's cost context. The first context's
    /// key is kept for good and read without a lock; another context's, the last one, is used
    /// under its lock, without a copy (the add takes the builder's lock inside it and runs no
    /// Python code).
    fn add_cost(&self, builder: Target<'_>, cost: f64) -> PyResult<()> {
        let context = builder.core.cost_context();
        let first = if let Some(first) = self.first_key.get() {
            first
        } else {
            let key = builder.core.source_cost_key(&self.source).map_err(to_py)?;
            // Another thread may have set it first: its context is then the first.
            self.first_key.get_or_init(|| (context.to_owned(), key))
        };
        if first.0 == context {
            return builder.core.add_metric(&first.1, cost).map_err(to_py);
        }
        let mut last = self.last_key.lock();
        let key = match &*last {
            Some((c, key)) if c == context => key,
            _ => {
                let key = builder.core.source_cost_key(&self.source).map_err(to_py)?;
                &last.insert((context.to_owned(), key)).1
            }
        };
        builder.core.add_metric(key, cost).map_err(to_py)
    }

    fn price(&self, builder: Target<'_>, response: &Bound<'_, PyAny>) -> Result<f64, Failure> {
        let call = Call {
            source: &self.source,
            provider: &self.provider,
            formula: self.formula,
            model: &self.model,
            overrides: &self.overrides,
            batch: self.batch,
        };
        price_response(builder, response, call, CatalogPrices::Cached(self), true)
    }
}
