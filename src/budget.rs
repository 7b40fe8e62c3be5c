//! The spend guard's bindings: set, save and restore a run's budget (the core decides its
//! rules and how state.json keeps it), and hand what a check found to the handler that
//! `art_metrics.budget` registers, which warns, raises and alerts reporters.

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::to_py;
use art_metrics_core::metrics::Builder;
use art_metrics_core::metrics::budget::{Budget, OnExceed};

/// `art_metrics.budget._on_budget_event`, registered by that module when it is imported
/// (`_set_budget_handler`): the extension imports no Python module by name.
static HANDLER: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

/// Registers the function that turns a budget event into warnings, an exception and
/// reporter alerts.
#[pyfunction]
pub fn _set_budget_handler(handler: Py<PyAny>) {
    *HANDLER.lock() = Some(handler);
}

/// Checks the run's spend after a recorded cost (nothing to do without a budget) and
/// reports what it crossed. `result` is the tracked call's return value, kept on the
/// `BudgetExceeded` it may raise.
pub fn after_cost(
    py: Python<'_>,
    builder: &Bound<'_, PyAny>,
    core: &Builder,
    result: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    if !core.has_budget() {
        return Ok(());
    }
    let Some(event) = py.detach(|| core.check_budget()) else {
        return Ok(());
    };
    let handler = HANDLER.lock().as_ref().map(|h| h.clone_ref(py));
    let Some(handler) = handler else {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "art_metrics.budget was not imported: no handler for the spend guard's events",
        ));
    };
    let kwargs = PyDict::new(py);
    kwargs.set_item("warnings", event.warnings)?;
    kwargs.set_item("exceeded", event.exceeded)?;
    kwargs.set_item("raise_", event.on_exceed == OnExceed::Raise)?;
    kwargs.set_item("spend_usd", event.spend_usd)?;
    kwargs.set_item("budget_usd", event.budget_usd)?;
    kwargs.set_item("result", result)?;
    handler.bind(py).call((builder,), Some(&kwargs))?;
    Ok(())
}

/// `BuilderCore.set_budget`: the budget from Python arguments (`usd=None` removes it;
/// `warn_at=None`: the core's default thresholds).
pub fn set_budget(
    core: &Builder,
    usd: Option<f64>,
    on_exceed: &str,
    warn_at: Option<Vec<f64>>,
) -> PyResult<()> {
    let on_exceed = OnExceed::parse(on_exceed).map_err(to_py)?;
    let budget = match usd {
        Some(usd) => Some(Budget::new(usd, on_exceed, warn_at.as_deref()).map_err(to_py)?),
        None => None,
    };
    core.set_budget(budget);
    Ok(())
}
