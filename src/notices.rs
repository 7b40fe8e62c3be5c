//! Emits the core's warnings (`art_metrics_core::notices`) as Python `UserWarning`s or `RuntimeWarning`s.

use std::ffi::CString;

use pyo3::exceptions::{PyRuntimeWarning, PyUserWarning};
use pyo3::prelude::*;
use pyo3::types::PyType;

/// Emits `message` as a `UserWarning` attributed to the caller of the API function.
pub fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    warn_as(py, &py.get_type::<PyUserWarning>(), message)
}

/// Emits `message` as a `RuntimeWarning` (something about the data, not the call, as the run
/// directory's warnings are) attributed to the caller of the API function.
pub fn warn_runtime(py: Python<'_>, message: &str) -> PyResult<()> {
    warn_as(py, &py.get_type::<PyRuntimeWarning>(), message)
}

/// Emits `message` as a warning of `category` attributed to the caller of the API function
/// (a NUL in the message becomes a space).
pub fn warn_as(py: Python<'_>, category: &Bound<'_, PyType>, message: &str) -> PyResult<()> {
    let msg = CString::new(message.replace('\0', " ")).unwrap_or_default();
    PyErr::warn(py, category, &msg, 2)
}

/// The warning for a split other than train/val/test, the first time it is logged.
#[pyfunction]
pub fn _split_notice(split: &str) -> Option<String> {
    art_metrics_core::history::routing::nonstandard_split(split)
}
