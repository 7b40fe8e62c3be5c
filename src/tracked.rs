//! `TrackedFunction`: the callable `@track_api_cost` returns for a sync function.
//!
//! Written in Rust because the decorator's whole budget is about a microsecond: a Python
//! `*args, **kwargs` wrapper alone costs a fifth of it. It calls the function, reads the
//! active builder from the `ContextVar`, and records through its `CostTracker`. Async
//! functions keep a Python wrapper (they must stay coroutine functions) that hands the
//! awaited result to `_record_awaited`.
//!
//! Calls come in through the vectorcall protocol ([`vectorcall`]), which PyO3 does not offer
//! a class (PyO3/pyo3#4252): its `__call__` is a `tp_call`, which packs the arguments into a
//! tuple and a dict, and a call through it cost 26 ns of a dict judge's ~250 (issue #20). The
//! first call through `tp_call` points the type's `tp_vectorcall_offset` at the
//! [`TrackedFunction::vectorcall`] field every instance carries, and sets
//! `Py_TPFLAGS_HAVE_VECTORCALL`; both paths run the same code.

use crate::errors::ToPyErr;
use pyo3::PyTraverseError;
use pyo3::exceptions::PyException;
use pyo3::ffi;
use pyo3::gc::PyVisit;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use std::panic::AssertUnwindSafe;

use crate::builder::BuilderCore;
use crate::pricing::CostTracker;
use art_metrics_core::error::CoreError;

static METHOD_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
/// The first class of an active builder seen (`MetricsBuilder`, a subclass of `BuilderCore`),
/// held so that no other class can take its address: a builder of exactly that class is a
/// `BuilderCore` without `PyType_IsSubtype`'s walk of its MRO on every call (issue #20).
static BUILDER_CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `builder` as a `BuilderCore`, or the error `cast` gives.
#[inline]
fn builder_core<'a, 'py>(builder: &'a Bound<'py, PyAny>) -> PyResult<&'a Bound<'py, BuilderCore>> {
    let py = builder.py();
    if let Some(class) = BUILDER_CLASS.get(py)
        && builder.get_type_ptr() == class.as_ptr().cast()
    {
        // SAFETY: its class is the one that passed the checked cast below (alive, held).
        return Ok(unsafe { builder.cast_unchecked::<BuilderCore>() });
    }
    let core = builder.cast::<BuilderCore>()?;
    if BUILDER_CLASS.get(py).is_none() {
        let _ = BUILDER_CLASS.set(py, builder.get_type().unbind());
    }
    Ok(core)
}

/// A sync function whose calls record their cost on the active builder.
///
/// `functools.wraps` is applied to it from Python (hence `dict`).
#[pyclass(frozen, dict, weakref, module = "art_metrics._core")]
pub struct TrackedFunction {
    /// [`vectorcall`], where the type's `tp_vectorcall_offset` points (module docs).
    vectorcall: ffi::vectorcallfunc,
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
        let recorded = builder_core(&builder).and_then(|b| {
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
            vectorcall,
            func: func.unbind(),
            tracker,
            active: active.unbind(),
            on_error: on_error.unbind(),
        })
    }

    /// A call through `tp_call`: the first one of the process, and those made with a tuple
    /// (`f(*args)`); the others come through [`vectorcall`].
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        enable_vectorcall(slf);
        let this = slf.get();
        let result = this.func.bind(args.py()).call(args, kwargs)?;
        this.finish(result)
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

/// Points `TrackedFunction`'s `tp_vectorcall_offset` at the `vectorcall` field of its
/// instances (the same offset in each: where PyO3 lays out the struct) and turns on
/// `Py_TPFLAGS_HAVE_VECTORCALL`, once. Python then calls [`vectorcall`], as it does a
/// function, where it would have packed the arguments for `tp_call`.
fn enable_vectorcall(slf: &Bound<'_, TrackedFunction>) {
    let class = slf.get_type_ptr();
    // SAFETY: the GIL is held (no other thread reads or writes the type meanwhile); the type
    // is `TrackedFunction`'s own (a final class: no subclass inherits stale slots), and the
    // offset is that of a field of every instance, which holds a `vectorcallfunc` from
    // `new`. PyType_Modified drops what CPython cached about the type.
    unsafe {
        if ffi::PyType_HasFeature(class, ffi::Py_TPFLAGS_HAVE_VECTORCALL) != 0 {
            return;
        }
        let field = (&raw const slf.get().vectorcall).cast::<u8>();
        let offset = field.offset_from(slf.as_ptr().cast::<u8>());
        (*class).tp_vectorcall_offset = offset;
        (*class).tp_flags |= ffi::Py_TPFLAGS_HAVE_VECTORCALL;
        ffi::PyType_Modified(class);
    }
}

/// A call of a `TrackedFunction` through the vectorcall protocol: the arguments go on to the
/// function as they came (the same vector, its `PY_VECTORCALL_ARGUMENTS_OFFSET` permission
/// passed on), then its result is recorded as `__call__` records it.
unsafe extern "C" fn vectorcall(
    callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: Python calls this with the GIL held and `callable` a live TrackedFunction
    // (the type's vectorcall slot is only set on that type).
    let py = unsafe { Python::assume_attached() };
    let call = || -> PyResult<Bound<'_, PyAny>> {
        // SAFETY: as above; `callable` is borrowed for the call.
        let this = unsafe { Borrowed::from_ptr(py, callable).cast_unchecked::<TrackedFunction>() };
        let this = this.get();
        // SAFETY: `args`, `nargsf` and `kwnames` are the caller's, valid for this call.
        let result = unsafe { ffi::PyObject_Vectorcall(this.func.as_ptr(), args, nargsf, kwnames) };
        // SAFETY: a new reference, or NULL with an exception set.
        let result = unsafe { Bound::from_owned_ptr_or_err(py, result) }?;
        this.finish(result)
    };
    // A panic must not unwind into Python: it becomes a PanicException, as PyO3 makes it.
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic in TrackedFunction".to_owned());
        Err(PanicException::new_err(message))
    });
    match outcome {
        Ok(result) => result.into_ptr(),
        Err(err) => {
            err.restore(py);
            std::ptr::null_mut()
        }
    }
}
