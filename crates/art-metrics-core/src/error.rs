//! The one error type of the core. The bindings map each variant to a Python exception
//! in exactly one place (the extension crate's `errors`).

use std::fmt;

/// Everything the core can refuse or fail at. Messages name the offending key, value or file.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreError {
    /// A bad argument value (maps to `ValueError`).
    InvalidValue(String),
    /// An argument of the wrong type (maps to `TypeError`).
    InvalidType(String),
    /// A price could not be found or computed (maps to `ValueError`).
    Pricing(String),
    /// No price is known for a model at all (maps to `ValueError`); `track_api_cost(...,
    /// on_unpriced="warn")` counts such calls instead of raising.
    Unpriced(String),
    /// A file could not be read or written (maps to `OSError`).
    Io(String),
    /// A file exists but its content is not what we wrote (maps to `ValueError`).
    Corrupt(String),
    /// A network request failed or got an HTTP error status (maps to `ConnectionError`).
    Network(String),
    /// A network request took longer than allowed (maps to `TimeoutError`).
    Timeout(String),
}

impl CoreError {
    pub fn value(msg: impl Into<String>) -> Self {
        CoreError::InvalidValue(msg.into())
    }

    /// The one message for a name (provider, model_name, source, cost_context...) that is
    /// empty or blank.
    pub fn empty(what: &str) -> Self {
        CoreError::InvalidValue(format!("{what} must be non-empty"))
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::InvalidValue(m)
            | CoreError::InvalidType(m)
            | CoreError::Pricing(m)
            | CoreError::Unpriced(m)
            | CoreError::Io(m)
            | CoreError::Corrupt(m)
            | CoreError::Network(m)
            | CoreError::Timeout(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CoreError {}

pub type CoreResult<T> = Result<T, CoreError>;
