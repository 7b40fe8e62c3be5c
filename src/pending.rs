//! `PendingMetrics`: a step's pending metrics on their way from a worker to the driver.

use crate::errors::to_py;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use art_metrics_core::metrics::pending::{self, PendingMetrics as CorePending};

/// One buffer scope's pending metrics, exported by a worker's builder for the driver to merge
/// (`MetricsBuilder.export_pending()` / `merge_pending()`). Immutable and picklable.
#[pyclass(frozen, module = "art_metrics._core", name = "PendingMetrics")]
pub struct PendingMetrics {
    pub(crate) core: CorePending,
}

#[pymethods]
impl PendingMetrics {
    /// The format version this art_metrics writes (and the newest it reads).
    #[classattr]
    const FORMAT_VERSION: u8 = pending::FORMAT_VERSION;

    /// `PendingMetrics(data)` is `PendingMetrics.from_bytes(data)`: what unpickling calls.
    #[new]
    #[pyo3(signature = (data, /))]
    fn new(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Self::from_bytes(py, data)
    }

    /// Rebuilds a `PendingMetrics` from `to_bytes()` output; `ValueError` for anything else
    /// (decoding allocates at most 64 MiB, whatever the bytes claim).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let core = py.detach(|| CorePending::from_bytes(data)).map_err(to_py)?;
        Ok(PendingMetrics { core })
    }

    /// The compact, versioned binary form (what pickling stores).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.core.to_bytes())
    }

    /// `(PendingMetrics, (bytes,))`: the pickle names only `art_metrics._core.PendingMetrics`,
    /// so an unpickler's allow-list can admit it (the bound `from_bytes` it named before
    /// pickled as `builtins.getattr`, issue #21).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let args = PyTuple::new(py, [slf.get().to_bytes(py)])?;
        PyTuple::new(py, [slf.get_type().into_any(), args.into_any()])
    }

    /// `(origin, sequence)`: unique per export; a run merges each id once.
    #[getter]
    fn id(&self) -> (&str, u64) {
        (self.core.origin(), self.core.sequence())
    }

    #[getter]
    fn cost_context(&self) -> &str {
        self.core.cost_context()
    }

    #[getter]
    fn buffer_scope(&self) -> &str {
        self.core.buffer_scope()
    }

    /// The pending leaves and their values, in the order first recorded.
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (k, v) in self.core.values() {
            out.set_item(k, v)?;
        }
        Ok(out)
    }

    #[getter]
    fn scenario_ids(&self) -> Vec<&str> {
        self.core
            .scenario_ids()
            .iter()
            .map(String::as_str)
            .collect()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PendingMetrics>()
            .is_ok_and(|o| o.get().core == self.core)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        (self.core.origin(), self.core.sequence()).hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        format!(
            "PendingMetrics(id=({:?}, {}), cost_context={:?}, {} values, {} scenario ids)",
            self.core.origin(),
            self.core.sequence(),
            self.core.cost_context(),
            self.core.values().len(),
            self.core.scenario_ids().len()
        )
    }
}
