//! The spend guard's bindings: set and read a run's budget, and hand what a check found
//! to `art_metrics.budget._on_budget_event`, which warns, raises and alerts reporters.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::metrics::Builder;
use crate::metrics::budget::{Budget, OnExceed};

static ON_EVENT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

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
    let handler = ON_EVENT.get_or_try_init(py, || {
        Ok::<_, PyErr>(
            py.import("art_metrics.budget")?
                .getattr("_on_budget_event")?
                .unbind(),
        )
    })?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("warnings", event.warnings)?;
    kwargs.set_item("exceeded", event.exceeded)?;
    kwargs.set_item("raise_", event.on_exceed == OnExceed::Raise)?;
    kwargs.set_item("spend_usd", event.spend_usd)?;
    kwargs.set_item("result", result)?;
    handler.bind(py).call((builder,), Some(&kwargs))?;
    Ok(())
}

/// `BuilderCore.set_budget`: the budget from Python arguments (`None` removes it).
pub fn set_budget(
    core: &Builder,
    usd: Option<f64>,
    on_exceed: &str,
    warn_at: Vec<f64>,
    fired: Vec<f64>,
    exceeded: bool,
) -> PyResult<()> {
    let on_exceed = OnExceed::parse(on_exceed)?;
    let budget = match usd {
        Some(usd) => Some(Budget::new(usd, on_exceed, &warn_at)?.with_history(&fired, exceeded)),
        None => None,
    };
    core.set_budget(budget);
    Ok(())
}

/// The run's budget as saved in state.json (`budget_usd`, ...), or None.
pub fn budget_state<'py>(py: Python<'py>, core: &Builder) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some(b) = core.budget() else {
        return Ok(None);
    };
    let out = PyDict::new(py);
    out.set_item("budget_usd", b.usd)?;
    out.set_item("budget_on_exceed", b.on_exceed.as_str())?;
    out.set_item("budget_warn_at", b.warn_at.clone())?;
    out.set_item("budget_warned_at", b.fired_thresholds().to_vec())?;
    out.set_item("budget_exceeded", b.exceeded)?;
    Ok(Some(out))
}
