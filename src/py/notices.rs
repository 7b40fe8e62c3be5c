//! Emits the core's once-per-cause warnings (`crate::notices`) as Python `UserWarning`s.

use std::ffi::CString;

use pyo3::exceptions::PyUserWarning;
use pyo3::prelude::*;

/// Emits `message` as a `UserWarning` attributed to the caller of the API function.
pub fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    let msg = CString::new(message.replace('\0', " ")).unwrap_or_default();
    PyErr::warn(py, &py.get_type::<PyUserWarning>(), &msg, 2)
}

/// The warning for a split other than train/val/test, the first time it is logged.
#[pyfunction]
pub fn _split_notice(split: &str) -> Option<String> {
    crate::notices::nonstandard_split(split)
}
