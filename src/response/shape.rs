//! How a response's attributes are read, decided once per Python type.
//!
//! `getattr(obj, key, None)` on a pydantic model is cheap for a field it has and dear for one
//! it lacks: the miss runs pydantic's Python `__getattr__`, which formats and raises an
//! `AttributeError` (~1 µs), and an openai `ChatCompletion` lacks about ten of the keys the
//! schema reads (issue #20: reading one cost ~10 µs, a dict ~0.1 µs). For the shapes whose
//! misses can be told without raising, a key the class does not define is looked up in the
//! instance `__dict__` instead, which is what Python's own lookup does for it:
//!
//! - [`Kind::Plain`]: the type's `__getattribute__` is `object`'s and it has no `__getattr__`
//!   (plain classes, dataclasses, `SimpleNamespace`, pydantic v1). A key the class defines
//!   anywhere in its MRO (a property, slot, method or class attribute) is read with getattr;
//!   any other key is the instance `__dict__`'s, or absent.
//! - [`Kind::Pydantic`]: as `Plain`, but `__getattr__` is pydantic v2's `BaseModel.__getattr__`
//!   (the openai, anthropic, google-genai and litellm models). A key missing from the
//!   `__dict__` is looked up where that `__getattr__` looks: a private attribute (litellm's
//!   `_hidden_params`) in `__pydantic_private__` (with getattr if its default is a
//!   descriptor), any other key in `__pydantic_extra__` when that is non-empty (litellm
//!   keeps `usage` there), else absent. `model_extra`, when it is `BaseModel`'s own
//!   property, is `__pydantic_extra__` itself.
//! - [`Kind::Mapping`]: a `collections.abc.Mapping` that is not a dict: `.get(key)`.
//! - [`Kind::Getattr`]: anything else (a custom `__getattr__` or `__getattribute__`): getattr.
//!
//! The cache holds each type (so its address is not reused by another) with its
//! `tp_version_tag`, which CPython changes whenever the class or a base is modified: a
//! property added to a class at runtime is seen. Not seen: a type registered as a `Mapping`
//! after its first read. The cache keeps at most [`MAX_TYPES`] types; others are read the
//! generic way ([`Kind::Unknown`]).
//!
//! Each thread keeps its own cache: a response of a stream of three events opens eight
//! readers, and a shared cache's lock and reference counts were eight pairs of atomic
//! operations per call, a fifth of reading the events (issue #20). A thread decides a type
//! once, the first time it reads one.

use std::cell::RefCell;
use std::rc::Rc;

use pyo3::exceptions::PyAttributeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};
use rustc_hash::FxHashMap;

use crate::attrs::{class_attribute, pydantic_base_model};

/// How attributes of one type are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plain,
    Pydantic,
    Mapping,
    Getattr,
    /// Not cached: decide per object, `Mapping` or `Getattr`.
    Unknown,
}

/// Where a `Plain` or `Pydantic` type's instances keep one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// The class defines it: getattr.
    Getattr,
    /// The instance `__dict__`, then (pydantic) `__pydantic_extra__`.
    Dict,
    /// A pydantic private attribute: `__pydantic_private__`.
    Private,
    /// pydantic's `model_extra` property: `__pydantic_extra__`.
    Extra,
}

/// One type's shape: its [`Kind`] and, for `Plain` and `Pydantic`, where each of the schema's
/// keys is read ([`Read`], by key id).
#[derive(Debug)]
pub struct TypeShape {
    pub kind: Kind,
    /// Whether instances have a `__dict__` (`__dictoffset__ != 0`).
    pub has_dict: bool,
    reads: Box<[Read]>,
}

impl TypeShape {
    /// Where the key with this id is read.
    pub fn read(&self, key: usize) -> Read {
        self.reads.get(key).copied().unwrap_or(Read::Getattr)
    }
}

/// Types beyond this many (classes made per call?) are not cached.
pub const MAX_TYPES: usize = 1024;

struct Entry {
    /// Held so that the address, the map's key, stays this type's.
    _ty: Py<PyType>,
    tag: u32,
    shape: Rc<TypeShape>,
}

/// One thread's shapes, by type address, and the shape of types it does not cache.
struct Shapes {
    types: FxHashMap<usize, Entry>,
    unknown: Rc<TypeShape>,
}

thread_local! {
    static SHAPES: RefCell<Shapes> = RefCell::new(Shapes {
        types: FxHashMap::default(),
        unknown: Rc::new(TypeShape {
            kind: Kind::Unknown,
            has_dict: false,
            reads: Box::new([]),
        }),
    });
}

fn version_tag(ty: &Bound<'_, PyType>) -> u32 {
    // SAFETY: a live type object; the field is a plain integer read under the GIL (or, on
    // free-threaded builds, a racy read whose worst outcome is a re-classification).
    unsafe { (*ty.as_type_ptr()).tp_version_tag }
}

/// The shape of `obj`'s type; `keys` are the schema's key names, indexed by key id.
pub fn shape_of(obj: &Bound<'_, PyAny>, keys: &[Py<PyString>]) -> PyResult<Rc<TypeShape>> {
    let py = obj.py();
    let ty = obj.get_type();
    let addr = ty.as_ptr() as usize;
    let tag = version_tag(&ty);
    // The cache is borrowed only while no Python code runs (classify does; a reader it
    // starts may look a type up here).
    let cached = |tag: u32| {
        SHAPES.with_borrow(|s| {
            s.types
                .get(&addr)
                .filter(|e| e.tag == tag)
                .map(|e| e.shape.clone())
        })
    };
    if tag != 0
        && let Some(shape) = cached(tag)
    {
        return Ok(shape);
    }
    // Python's own attribute lookups assign a tag to a type that has none.
    let _ = ty.getattr(pyo3::intern!(py, "__getattribute__"))?;
    let tag = version_tag(&ty);
    let full = SHAPES.with_borrow(|s| s.types.len() >= MAX_TYPES && !s.types.contains_key(&addr));
    if tag == 0 || full {
        return Ok(SHAPES.with_borrow(|s| s.unknown.clone()));
    }
    let shape = Rc::new(classify(&ty, keys)?);
    let entry = Entry {
        _ty: ty.unbind(),
        tag,
        shape: shape.clone(),
    };
    // The replaced entry (a stale tag) holds a type: dropped after the borrow ends, as
    // dropping it can run Python code.
    let old = SHAPES.with_borrow_mut(|s| s.types.insert(addr, entry));
    drop(old);
    Ok(shape)
}

fn classify(ty: &Bound<'_, PyType>, keys: &[Py<PyString>]) -> PyResult<TypeShape> {
    let py = ty.py();
    let other = |kind| TypeShape {
        kind,
        has_dict: false,
        reads: Box::new([]),
    };
    let mapping = py
        .import("collections.abc")?
        .getattr(pyo3::intern!(py, "Mapping"))?;
    if ty.is_subclass(&mapping)? {
        return Ok(other(Kind::Mapping));
    }
    let mro = ty.getattr(pyo3::intern!(py, "__mro__"))?;
    let Ok(mro) = mro.cast_into::<PyTuple>() else {
        return Ok(other(Kind::Getattr));
    };
    let object_getattribute = py
        .get_type::<pyo3::types::PyAny>()
        .getattr(pyo3::intern!(py, "__dict__"))?
        .get_item(pyo3::intern!(py, "__getattribute__"))?;
    match class_attribute(&mro, pyo3::intern!(py, "__getattribute__"))? {
        Some(g) if g.is(&object_getattribute) => {}
        _ => return Ok(other(Kind::Getattr)),
    }
    let base_dict = match pydantic_base_model(py)? {
        Some(b) => Some(b.bind(py).getattr(pyo3::intern!(py, "__dict__"))?),
        None => None,
    };
    let base_item = |name: &str| match &base_dict {
        Some(d) => d.get_item(name).ok(),
        None => None,
    };
    let kind = match class_attribute(&mro, pyo3::intern!(py, "__getattr__"))? {
        None => Kind::Plain,
        Some(g) if base_item("__getattr__").is_some_and(|p| g.is(&p)) => Kind::Pydantic,
        Some(_) => return Ok(other(Kind::Getattr)),
    };
    let private = match kind {
        Kind::Pydantic => ty
            .getattr_opt(pyo3::intern!(py, "__private_attributes__"))?
            .and_then(|p| p.cast_into::<PyDict>().ok()),
        _ => None,
    };
    let model_extra = base_item("model_extra");
    let mut reads = Vec::with_capacity(keys.len());
    for key in keys {
        let key = key.bind(py);
        let read = match class_attribute(&mro, key)? {
            Some(v) if kind == Kind::Pydantic && model_extra.as_ref().is_some_and(|m| v.is(m)) => {
                Read::Extra
            }
            Some(_) => Read::Getattr,
            None => match private
                .as_ref()
                .map(|p| p.get_item(key))
                .transpose()?
                .flatten()
            {
                // A descriptor default is read through it, by pydantic's `__getattr__`.
                Some(attr) if attr.hasattr(pyo3::intern!(py, "__get__"))? => Read::Getattr,
                Some(_) => Read::Private,
                None => Read::Dict,
            },
        };
        reads.push(read);
    }
    let has_dict = ty
        .getattr(pyo3::intern!(py, "__dictoffset__"))?
        .extract::<isize>()
        .is_ok_and(|o| o != 0);
    Ok(TypeShape {
        kind,
        has_dict,
        reads: reads.into_boxed_slice(),
    })
}

/// `obj.<name>` read the way pydantic's `__getattr__` reads its slots
/// (`object.__getattribute__`: no `__getattr__` of its own); `None` when unset.
pub fn generic_getattr<'py>(
    obj: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = obj.py();
    // SAFETY: both live; a new reference or NULL with an exception set.
    let extra = unsafe { pyo3::ffi::PyObject_GenericGetAttr(obj.as_ptr(), name.as_ptr()) };
    if extra.is_null() {
        let err = PyErr::fetch(py);
        return if err.is_instance_of::<PyAttributeError>(py) {
            Ok(None)
        } else {
            Err(err)
        };
    }
    // SAFETY: non-NULL: a new (owned) reference.
    Ok(Some(unsafe { Bound::from_owned_ptr(py, extra) }))
}
