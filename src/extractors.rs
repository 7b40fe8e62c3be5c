//! The cost extractors of one run: Python callables by normalized provider name, shared by
//! every builder of the run.
//!
//! The registry is a Python object of its own so the garbage collector sees each extractor
//! exactly once, however many builders share it: a builder visits its registry, the
//! registry visits its extractors, and clearing the registry breaks a builder ↔ extractor
//! cycle (an extractor that closes over its builder).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};

#[pyclass(frozen, module = "art_metrics._core")]
#[derive(Default)]
pub struct CostExtractors {
    by_provider: Mutex<HashMap<String, Py<PyAny>>>,
    /// Whether any extractor was ever registered: the common run has none, and its tracked
    /// calls then take no lock here.
    any: AtomicBool,
}

impl CostExtractors {
    /// Registers `extractor` for `provider` (normalized). The extractor it replaces is
    /// dropped after the lock is released: dropping it may run Python code (`__del__`)
    /// that registers again.
    pub fn insert(&self, provider: String, extractor: Py<PyAny>) {
        let replaced = self.by_provider.lock().insert(provider, extractor);
        self.any.store(true, Ordering::Release);
        drop(replaced);
    }

    /// The extractor for `provider` (normalized), if any; the lock is released before the
    /// caller can call it.
    pub fn get(&self, py: Python<'_>, provider: &str) -> Option<Py<PyAny>> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let by_provider = self.by_provider.lock();
        if by_provider.is_empty() {
            return None;
        }
        by_provider.get(provider).map(|f| f.clone_ref(py))
    }
}

#[pymethods]
impl CostExtractors {
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // A collection can start while another thread holds the lock: the extractors are
        // then left unvisited this time, which keeps them alive rather than freeing early.
        if let Some(by_provider) = self.by_provider.try_lock() {
            for extractor in by_provider.values() {
                visit.call(extractor)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        // Taken out under the lock, dropped (running any `__del__`) after it.
        let taken = std::mem::take(&mut *self.by_provider.lock());
        drop(taken);
    }
}
