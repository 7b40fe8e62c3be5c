//! Conversions from Python arguments, with errors that name the argument.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};

/// Borrows a `str` argument, or raises `TypeError` naming `what`.
pub fn str_arg<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<&'a str> {
    match obj.cast::<PyString>() {
        Ok(s) => s.to_str(),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{what} must be a str, got {}: {}",
            type_name(obj),
            short_repr(obj)
        ))),
    }
}

/// Reads a number (int, float, bool, or anything with `__float__` except str and bytes)
/// as `f64`; raises `TypeError`/`ValueError` naming `key`.
pub fn number_arg(obj: &Bound<'_, PyAny>, key: &str) -> PyResult<f64> {
    // Fast path for the common exact types.
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        return Ok(f.value());
    }
    let is_number = obj.is_instance_of::<PyInt>()
        || obj.is_instance_of::<PyFloat>()
        || obj.is_instance_of::<PyBool>()
        || (obj.hasattr("__float__").unwrap_or(false) && !obj.is_instance_of::<PyString>());
    if !is_number {
        return Err(PyTypeError::new_err(format!(
            "Metric '{key}' must be a number, got {}: {}",
            type_name(obj),
            short_repr(obj)
        )));
    }
    obj.extract::<f64>().map_err(|e| {
        if e.is_instance_of::<PyOverflowError>(obj.py()) {
            PyValueError::new_err(format!(
                "Metric '{key}' is too large for a float: {}",
                short_repr(obj)
            ))
        } else {
            PyTypeError::new_err(format!("Metric '{key}' must be a number: {e}"))
        }
    })
}

/// Like [`number_arg`] for an optional argument.
pub fn opt_number_arg(obj: Option<&Bound<'_, PyAny>>, key: &str) -> PyResult<Option<f64>> {
    match obj {
        Some(o) if !o.is_none() => number_arg(o, key).map(Some),
        _ => Ok(None),
    }
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

/// `repr(obj)`, cut to 80 characters.
pub fn short_repr(obj: &Bound<'_, PyAny>) -> String {
    let r = obj
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "<unrepresentable>".into());
    if r.chars().count() > 80 {
        format!("{}...", r.chars().take(77).collect::<String>())
    } else {
        r
    }
}
