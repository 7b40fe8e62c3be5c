//! The one mapping from core errors to Python exceptions.

use pyo3::PyErr;
use pyo3::exceptions::{PyConnectionError, PyOSError, PyTimeoutError, PyTypeError, PyValueError};

use art_metrics_core::error::CoreError;

/// The Python exception for a core error: `.map_err(to_py)?` on a core call's result.
/// (A `From` impl cannot be written here: `CoreError` and `PyErr` are both other crates'.)
pub fn to_py(err: CoreError) -> PyErr {
    let msg = err.to_string();
    match err {
        CoreError::InvalidValue(_)
        | CoreError::Pricing(_)
        | CoreError::Unpriced(_)
        | CoreError::Corrupt(_) => PyValueError::new_err(msg),
        CoreError::InvalidType(_) => PyTypeError::new_err(msg),
        CoreError::Io(_) => PyOSError::new_err(msg),
        CoreError::Network(_) => PyConnectionError::new_err(msg),
        CoreError::Timeout(_) => PyTimeoutError::new_err(msg),
    }
}

/// `error.to_py()`: [`to_py`] as a method, for errors built in place.
pub trait ToPyErr {
    fn to_py(self) -> PyErr;
}

impl ToPyErr for CoreError {
    fn to_py(self) -> PyErr {
        to_py(self)
    }
}
