//! Each priced API call, handed to Python while a reporter of its run asks for them (a
//! reporter with `record_call`, such as the OpenTelemetry one; issue #24).
//!
//! `art_metrics.delivery` registers the handler once; the run's switch
//! (`Builder::reports_calls`, set by the `Model` while such a reporter is started) keeps a
//! priced call to one atomic load when no reporter wants it.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::errors::to_py;
use crate::pricing::Target;
use art_metrics_core::pricing::{CallUsage, Formula, ResponseFields};

static HANDLER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Registers `handler(run_id, **call)`, called for each priced call of a run whose switch
/// is on. Only the first registration counts; returns whether this one did.
#[pyfunction]
pub fn _set_call_handler(py: Python<'_>, handler: Bound<'_, PyAny>) -> PyResult<bool> {
    if !handler.is_callable() {
        return Err(PyTypeError::new_err(format!(
            "the call handler must be callable, got {}",
            crate::convert::type_name(&handler)
        )));
    }
    Ok(HANDLER.set(py, handler.unbind()).is_ok())
}

/// What one priced call was: its source (the cost key is `costs/<context>/<source>`), the
/// provider and model it was priced as, the formula its usage was read with, and its cost in
/// USD.
pub struct PricedCall<'a> {
    pub source: &'a str,
    pub provider: &'a str,
    pub model: &'a str,
    pub formula: Formula,
    pub cost_usd: f64,
}

/// Hands `call` to the registered handler (nothing when none is registered): its cost key,
/// provider, model, cost and, when the response carried token usage, its `gen_ai.usage.*`
/// counts (the cache and reasoning counts only when not zero). Off the hot path: only for a
/// run whose switch is on.
#[cold]
#[inline(never)]
pub fn report(
    py: Python<'_>,
    builder: Target<'_>,
    call: &PricedCall<'_>,
    fields: &ResponseFields,
) -> PyResult<()> {
    let Some(handler) = HANDLER.get(py) else {
        return Ok(());
    };
    let kwargs = PyDict::new(py);
    kwargs.set_item(
        "key",
        builder.core.source_cost_key(call.source).map_err(to_py)?,
    )?;
    kwargs.set_item("provider", call.provider)?;
    kwargs.set_item("model", call.model)?;
    kwargs.set_item("cost_usd", call.cost_usd)?;
    if let Some(usage) = CallUsage::read(call.formula, fields).map_err(to_py)? {
        kwargs.set_item("input_tokens", usage.input)?;
        kwargs.set_item("output_tokens", usage.output)?;
        let optional = [
            ("cache_read_tokens", usage.cache_read),
            ("cache_creation_tokens", usage.cache_creation),
            ("reasoning_tokens", usage.reasoning),
        ];
        for (name, count) in optional.into_iter().filter(|(_, n)| *n > 0.0) {
            kwargs.set_item(name, count)?;
        }
    }
    handler
        .bind(py)
        .call((builder.core.run_id(),), Some(&kwargs))?;
    Ok(())
}
