//! `TrackedFunction`: the callable `@track_api_cost` returns for a sync function.
//!
//! Written in Rust because the decorator's whole budget is about a microsecond: a Python
//! `*args, **kwargs` wrapper alone costs a fifth of it. It calls the function, reads the
//! active builder from the `ContextVar`, and records through its `CostTracker`. Async
//! functions keep a Python wrapper (they must stay coroutine functions) that hands the
//! awaited result to `_record_awaited`.

use crate::errors::ToPyErr;
use pyo3::PyTraverseError;
use pyo3::exceptions::PyException;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};

use crate::builder::BuilderCore;
use crate::pricing::CostTracker;
use art_metrics_core::error::CoreError;

static METHOD_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A sync function whose calls record their cost on the active builder.
///
/// `functools.wraps` is applied to it from Python (hence `dict`).
#[pyclass(frozen, dict, weakref, module = "art_metrics._core")]
pub struct TrackedFunction {
    func: Py<PyAny>,
    tracker: Py<CostTracker>,
    /// The `ContextVar` holding the active `MetricsBuilder`.
    active: Py<PyAny>,
    /// `on_error(error, result, func) -> exception`: builds the `CostTrackingError`.
    on_error: Py<PyAny>,
}

/// The value of `var`, or `None` when it has none in the current context.
fn context_var_get<'py>(var: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = var.py();
    let mut out: *mut pyo3::ffi::PyObject = std::ptr::null_mut();
    // SAFETY: `var` is a live ContextVar (checked by `new`); with a NULL default,
    // PyContextVar_Get stores a new reference or NULL in `out` and returns -1 on error.
    let rc =
        unsafe { pyo3::ffi::PyContextVar_Get(var.as_ptr(), std::ptr::null_mut(), &raw mut out) };
    if rc < 0 {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: `out` is NULL or a new (owned) reference, as documented above.
    Ok(unsafe { Bound::from_owned_ptr_or_opt(py, out) })
}

impl TrackedFunction {
    /// Records `result` on the active builder (or warns that there is none) and returns it;
    /// a failure to record becomes `on_error`'s exception.
    fn finish<'py>(&self, result: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = result.py();
        let Some(builder) = context_var_get(self.active.bind(py))? else {
            self.tracker.get().warn_no_builder(py)?;
            return Ok(result);
        };
        let recorded = builder
            .cast::<BuilderCore>()
            .map_err(PyErr::from)
            .and_then(|b| {
                self.tracker
                    .get()
                    .record(b.get().target(), b.as_any(), &result)
            });
        match recorded {
            Ok(()) => Ok(result),
            // KeyboardInterrupt and friends pass through untouched.
            Err(err) if !err.is_instance_of::<PyException>(py) => Err(err),
            Err(err) => {
                let exc =
                    self.on_error
                        .bind(py)
                        .call1((err.value(py), &result, self.func.bind(py)))?;
                Err(PyErr::from_value(exc))
            }
        }
    }
}

#[pymethods]
impl TrackedFunction {
    #[new]
    fn new(
        func: Bound<'_, PyAny>,
        tracker: Py<CostTracker>,
        active: Bound<'_, PyAny>,
        on_error: Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let context_var = active.py().import("contextvars")?.getattr("ContextVar")?;
        if !active.is_instance(&context_var)? {
            return Err(
                CoreError::InvalidType("active must be a contextvars.ContextVar".into()).to_py(),
            );
        }
        Ok(TrackedFunction {
            func: func.unbind(),
            tracker,
            active: active.unbind(),
            on_error: on_error.unbind(),
        })
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__<'py>(
        &self,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let result = self.func.bind(args.py()).call(args, kwargs)?;
        self.finish(result)
    }

    /// The async path: records the awaited `result` of the function and returns it.
    ///
    /// An async function keeps a Python wrapper (it must stay a coroutine function), reduced
    /// to `return record(await func(*args, **kwargs))`: the steps after the await, the same
    /// as a sync call's, run here (issue #20).
    fn _record_awaited<'py>(&self, result: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.finish(result)
    }

    /// Binds like a function, so that decorated methods get `self`.
    fn __get__(
        slf: Bound<'_, Self>,
        obj: Option<Bound<'_, PyAny>>,
        _objtype: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        match obj.filter(|o| !o.is_none()) {
            None => Ok(slf.into_any().unbind()),
            Some(obj) => {
                let method_type = METHOD_TYPE.get_or_try_init(py, || {
                    Ok::<_, PyErr>(py.import("types")?.getattr("MethodType")?.unbind())
                })?;
                Ok(method_type.bind(py).call1((slf, obj))?.unbind())
            }
        }
    }

    // Lets the GC see the references (a decorated function that refers to its wrapper
    // through its module's globals is a cycle). They are immutable (frozen class), so there
    // is no `__clear__`: PyO3's own tp_clear clears the `__dict__`, and every cycle holds a
    // mutable reference the GC clears (PyO3 guide, "Garbage Collector Integration").
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.func)?;
        visit.call(&self.tracker)?;
        visit.call(&self.active)?;
        visit.call(&self.on_error)
    }

    #[getter]
    fn _tracker(&self, py: Python<'_>) -> Py<CostTracker> {
        self.tracker.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<tracked function {}>",
            self.func.bind(py).repr()?.to_str()?
        ))
    }
}
