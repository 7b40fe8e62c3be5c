//! The one mapping from core errors to Python exceptions.

use pyo3::PyErr;
use pyo3::exceptions::{PyConnectionError, PyOSError, PyTimeoutError, PyTypeError, PyValueError};

use crate::error::CoreError;

impl From<CoreError> for PyErr {
    fn from(err: CoreError) -> PyErr {
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
}
