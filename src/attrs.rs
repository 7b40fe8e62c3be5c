//! Reading Python objects' attributes where Python's own lookup would find them, without its
//! slow paths: the instance `__dict__` of an object, what a class's MRO holds under a name,
//! and pydantic's `BaseModel` (whose models keep their fields there). Used by the batch
//! reader (`batch`) and the response reader (`response::shape`).

use pyo3::exceptions::PyAttributeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};

/// The instance `__dict__` of `obj` (the dict generic attribute lookup reads; a pydantic
/// model's always is one), or None when it has none.
pub fn instance_dict<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyDict>>> {
    let py = obj.py();
    // SAFETY: `obj` is live; PyObject_GenericGetDict returns a new reference or NULL with an
    // exception set (AttributeError for an object without a `__dict__`).
    let dict = unsafe { pyo3::ffi::PyObject_GenericGetDict(obj.as_ptr(), std::ptr::null_mut()) };
    if dict.is_null() {
        let err = PyErr::fetch(py);
        return match err.is_instance_of::<PyAttributeError>(py) {
            true => Ok(None),
            false => Err(err),
        };
    }
    // SAFETY: non-NULL: a new (owned) reference.
    let dict = unsafe { Bound::from_owned_ptr(py, dict) };
    Ok(dict.cast_into::<PyDict>().ok())
}

/// pydantic v2's `BaseModel` once pydantic is imported (never imported from here), kept
/// once found.
pub fn pydantic_base_model(py: Python<'_>) -> PyResult<Option<&Py<PyAny>>> {
    static BASE_MODEL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    if let Some(found) = BASE_MODEL.get(py) {
        return Ok(Some(found));
    }
    let modules = py.import("sys")?.getattr(intern!(py, "modules"))?;
    let Ok(modules) = modules.cast_into::<PyDict>() else {
        return Ok(None);
    };
    let Some(main) = modules.get_item("pydantic.main")? else {
        return Ok(None);
    };
    let Some(base_model) = main.getattr_opt(intern!(py, "BaseModel"))? else {
        return Ok(None);
    };
    Ok(Some(BASE_MODEL.get_or_init(py, || base_model.unbind())))
}

/// What the first class of `mro` that defines `name` holds under it (what Python's lookup
/// finds on the class, before the instance), or None.
pub fn class_attribute<'py>(
    mro: &Bound<'py, PyTuple>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = mro.py();
    for cls in mro.iter() {
        let dict = cls.getattr(intern!(py, "__dict__"))?;
        if dict.contains(name)? {
            return Ok(Some(dict.get_item(name)?));
        }
    }
    Ok(None)
}
