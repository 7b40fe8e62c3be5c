//! The one coercion of Python values into the core.
//!
//! Every number, name and step an API call takes goes through here, so one kind of value
//! means the same thing wherever it is passed. Errors are [`CoreError`]s (mapped once, in
//! `errors`, to Python exceptions) and name the argument or metric key.
//!
//! | Python value | metric value | price | step, GPU count, `n_params` |
//! |---|---|---|---|
//! | `float`, `int` | the float | the float | `int` only, as `i64` |
//! | `bool` | `1.0` / `0.0` | refused | refused |
//! | object with `__float__` (numpy scalar, `Decimal`, `Fraction`) | `float(obj)` | `float(obj)` | with `__index__` only |
//! | `str`, `bytes` (even `"1.5"`) | refused | refused | refused |
//! | `None`, a list, anything else | refused | refused (`None`: not given, where optional) | refused |
//! | `int` too large for a float | refused, as too large | refused, as too large | refused beyond `i64` |
//! | NaN, ±infinity | passed on | passed on | - |
//!
//! * A metric value is a measurement: ART trajectories log bools (`correct=True`) as 1 and 0.
//!   A price or a count is a quantity, where `True` is a mistake, not a one.
//! * Refusals raise `TypeError` (the argument has the wrong type), except for prices, which
//!   raise `ValueError` as openpipe-art does for a price it cannot read (`float("abc")`), and
//!   values too large, which raise `ValueError`.
//! * NaN and infinities pass the conversion: the core refuses them by name where a value must
//!   be finite (metric values, prices, token counts), with `ValueError`.
//! * A history row's values (`summary`, `report`) are read by [`history_value`]: there a bool
//!   is not a number, as `json.loads` rows hold them (`"correct": true`).
//! * Token counts inside API responses are read by `response` into the core's `Scalar`s (a
//!   bool or a str there is a malformed response, refused by the core with `ValueError`
//!   naming the usage field).

use crate::errors::ToPyErr;
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString};

use art_metrics_core::error::CoreError;
use art_metrics_core::history::steps::RowValue;

/// Why a value is not a number.
enum NotANumber {
    WrongType,
    TooLarge,
}

/// Reads `obj` as a float: an int, float or other `__float__` number, never a str or bytes;
/// a bool only when `bools` allows it.
fn read_number(obj: &Bound<'_, PyAny>, bools: bool) -> Result<f64, NotANumber> {
    // Fast path for the common exact type.
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        return Ok(f.value());
    }
    if obj.is_instance_of::<PyBool>() {
        return if bools {
            Ok(if obj.is_truthy().unwrap_or(false) {
                1.0
            } else {
                0.0
            })
        } else {
            Err(NotANumber::WrongType)
        };
    }
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(NotANumber::WrongType);
    }
    let is_number = obj.is_instance_of::<PyFloat>()
        || obj.is_instance_of::<PyInt>()
        || obj
            .hasattr(pyo3::intern!(obj.py(), "__float__"))
            .unwrap_or(false);
    if !is_number {
        return Err(NotANumber::WrongType);
    }
    obj.extract::<f64>().map_err(|e| {
        if e.is_instance_of::<PyOverflowError>(obj.py()) {
            NotANumber::TooLarge
        } else {
            NotANumber::WrongType
        }
    })
}

/// Borrows a `str` argument; anything else is a `TypeError` naming `what`, and a str that is
/// not valid Unicode (a lone surrogate) a `ValueError` naming `what` and the value.
pub fn str_arg<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<&'a str> {
    match obj.cast::<PyString>() {
        Ok(s) => unicode_str(s, what),
        Err(_) => Err(CoreError::InvalidType(format!(
            "{what} must be a str, got {}: {}",
            type_name(obj),
            short_repr(obj)
        ))
        .to_py()),
    }
}

/// `s` as UTF-8; a lone surrogate is a `ValueError` naming `what` and the value (Python's
/// own `UnicodeEncodeError` names neither).
pub fn unicode_str<'a>(s: &'a Bound<'_, PyString>, what: &str) -> PyResult<&'a str> {
    s.to_str().map_err(|_| {
        CoreError::value(format!(
            "{what} {} is not valid Unicode text (it holds a lone surrogate)",
            short_repr(s.as_any())
        ))
        .to_py()
    })
}

/// Reads the name `what` (a provider, source or model name): a str that `normalize` does
/// not reduce to nothing; an empty or blank one is a `ValueError` naming `what`.
pub fn name_arg<'a, T>(
    obj: &'a Bound<'_, PyAny>,
    what: &str,
    normalize: impl FnOnce(&'a str) -> Option<T>,
) -> PyResult<T> {
    normalize(str_arg(obj, what)?).ok_or_else(|| CoreError::empty(what).to_py())
}

/// Reads the value of metric `key` (see the module's table: bools count as 1 and 0).
pub fn number_arg(obj: &Bound<'_, PyAny>, key: &str) -> PyResult<f64> {
    read_number(obj, true).map_err(|why| {
        match why {
            NotANumber::WrongType => CoreError::InvalidType(format!(
                "Metric '{key}' must be a number, got {}: {}",
                type_name(obj),
                short_repr(obj)
            )),
            NotANumber::TooLarge => CoreError::value(format!(
                "Metric '{key}' is too large for a float: {}",
                short_repr(obj)
            )),
        }
        .to_py()
    })
}

/// Like [`number_arg`] for an optional argument: absent or `None` is `None`.
pub fn opt_number_arg(obj: Option<&Bound<'_, PyAny>>, key: &str) -> PyResult<Option<f64>> {
    match obj {
        Some(o) if !o.is_none() => number_arg(o, key).map(Some),
        _ => Ok(None),
    }
}

/// `obj` as a price-like number (the price policy: no bool, str or bytes), or `None`.
pub fn price_number(obj: &Bound<'_, PyAny>) -> Option<f64> {
    read_number(obj, false).ok()
}

/// Reads the price `name` (USD per million tokens, or per GPU-hour): absent or `None` is
/// `None`; a bool, str or any other non-number is a `ValueError` naming `name`.
pub fn price_arg(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<f64>> {
    match obj {
        Some(o) if !o.is_none() => required_price_arg(o, name).map(Some),
        _ => Ok(None),
    }
}

/// Like [`price_arg`] for a price that must be given (`None` is refused too).
pub fn required_price_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<f64> {
    read_number(obj, false).map_err(|why| {
        CoreError::value(match why {
            NotANumber::WrongType => format!(
                "{name} must be a number (a price in USD), got {}: {}",
                type_name(obj),
                short_repr(obj)
            ),
            NotANumber::TooLarge => {
                format!("{name} is too large for a float: {}", short_repr(obj))
            }
        })
        .to_py()
    })
}

/// Reads the integer `name` (a step, a count): an `int` or an object with `__index__`
/// (numpy integers), not a bool or a float.
pub fn int_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<i64> {
    let wrong_type = || {
        CoreError::InvalidType(format!(
            "{name} must be an int, got {}: {}",
            type_name(obj),
            short_repr(obj)
        ))
    };
    if obj.is_instance_of::<PyBool>() || obj.is_instance_of::<PyFloat>() {
        return Err(wrong_type().to_py());
    }
    obj.extract::<i64>().map_err(|e| {
        if e.is_instance_of::<PyOverflowError>(obj.py()) {
            CoreError::value(format!("{name} is too large: {}", short_repr(obj)))
        } else {
            wrong_type()
        }
        .to_py()
    })
}

/// Like [`int_arg`] for a count that cannot be negative; absent or `None` is `None`.
pub fn opt_count_arg(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<u64>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let n = int_arg(obj, name)?;
    u64::try_from(n)
        .map(Some)
        .map_err(|_| CoreError::value(format!("{name} must not be negative, got {n}")).to_py())
}

/// Like [`opt_count_arg`] for a count that must be positive (a parameter count).
pub fn opt_positive_count_arg(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<u64>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let n = int_arg(obj, name)?;
    u64::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .map(Some)
        .ok_or_else(|| CoreError::value(format!("{name} must be positive, got {n}")).to_py())
}

/// The name of `obj`'s type, for messages.
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".into(), |n| n.to_string())
}

/// `repr(obj)`, cut to 80 characters.
pub fn short_repr(obj: &Bound<'_, PyAny>) -> String {
    let r = obj
        .repr()
        .map_or_else(|_| "<unrepresentable>".into(), |r| r.to_string());
    if r.chars().count() > 80 {
        format!("{}...", r.chars().take(77).collect::<String>())
    } else {
        r
    }
}

/// A value of a history row (a dict `json.loads` made, or one like it) as the per-step
/// aggregation reads it: a float, or an int (not a bool), is a number; anything else is not.
/// Unlike a metric value, a bool is no number here, as in `summary` before it moved to the
/// core. An int too large for a float raises `OverflowError`, as `float()` does.
pub fn history_value(obj: &Bound<'_, PyAny>) -> PyResult<RowValue> {
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(RowValue::Float(f.value()));
    }
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return Ok(RowValue::Other);
    }
    match obj.extract::<i64>() {
        Ok(i) => Ok(RowValue::Int(i)),
        Err(_) => obj.extract::<f64>().map(RowValue::Float),
    }
}

unsafe extern "C" {
    // CPython's own presizing constructor (3.6-3.13, in the headers, not in PyO3's bindings).
    fn _PyDict_NewPresized(minused: pyo3::ffi::Py_ssize_t) -> *mut pyo3::ffi::PyObject;
}

/// A dict of `len` items to come, sized for them: a flush of thousands of keys otherwise
/// rehashes its result a dozen times as it grows (issue #20).
pub fn dict_with_capacity(py: Python<'_>, len: usize) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let len = pyo3::ffi::Py_ssize_t::try_from(len).unwrap_or(pyo3::ffi::Py_ssize_t::MAX);
    // SAFETY: called with the GIL held (`py`); returns a new reference or NULL with an
    // exception set.
    let dict = unsafe { Bound::from_owned_ptr_or_err(py, _PyDict_NewPresized(len))? };
    Ok(dict.cast_into::<pyo3::types::PyDict>()?)
}
