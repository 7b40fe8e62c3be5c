//! A batch of trajectory groups (ours or openpipe-art's pydantic ones: any objects with the
//! attributes `Model.log` reads) read into the core's `BatchAggregator`, and the metric dicts
//! of a log call. Only reading lives here; what the values become is the core's
//! `history::batch`.
//!
//! Reading a batch is most of a `Model.log` of thousands of trajectories, and after a GC
//! (or any other work) their objects are out of the CPU's caches: the readers below touch
//! each object once and as few other things as they can (issue #20).

use pyo3::Borrowed;
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};

use crate::attrs::{class_attribute, instance_dict, pydantic_base_model};
use crate::convert::{number_arg, type_name, unicode_str};
use crate::errors::{ToPyErr, to_py};
use art_metrics_core::error::CoreError;
use art_metrics_core::history::BatchAggregator;
use art_metrics_core::metrics::Dialect;

/// Feeds every group (ours or openpipe-art's: any object with `trajectories`, `exceptions`,
/// `metadata`, `metrics`) to the aggregator.
pub fn aggregate(
    groups: &Bound<'_, PyList>,
    dialect: &'static Dialect,
) -> PyResult<BatchAggregator> {
    let py = groups.py();
    let mut agg = BatchAggregator::with_dialect(dialect);
    let mut gathered = Vec::new();
    let (trajectories_, exceptions, metrics_, metadata) = (
        intern!(py, "trajectories"),
        intern!(py, "exceptions"),
        intern!(py, "metrics"),
        intern!(py, "metadata"),
    );
    let reward = intern!(py, "reward");
    let mut group_fields = Fields::new([trajectories_, exceptions, metrics_, metadata]);
    let mut trajectory_fields = Fields::new([reward, metrics_, metadata]);
    for group in groups.iter() {
        let fields = group_fields.of(&group)?;
        let trajectories = match fields.get(trajectories_)?.cast_into::<PyList>() {
            Ok(list) => list,
            Err(other) => {
                let items = other
                    .into_inner()
                    .try_iter()?
                    .collect::<PyResult<Vec<_>>>()?;
                PyList::new(py, items)?
            }
        };
        let num_exceptions = match fields.get(exceptions)? {
            e if e.is_none() => 0,
            e => e.len()?,
        };
        let group_metrics = fields.get(metrics_)?;
        let group_metrics = optional_metric_items(&group_metrics, "TrajectoryGroup.metrics")?;
        let group_id = scenario_id(&fields.get(metadata)?)?;
        agg.begin_group(
            borrow_keys(&group_metrics)?,
            group_id,
            trajectories.len(),
            num_exceptions,
        )
        .map_err(to_py)?;
        for t in trajectories.iter() {
            let fields = trajectory_fields.of(&t)?;
            agg.begin_trajectory(number_arg(&fields.get(reward)?, "reward")?);
            let metrics = fields.get(metrics_)?;
            if !metrics.is_none() {
                let dict = metrics_dict(&metrics, "Trajectory.metrics")?;
                add_trajectory_metrics(&mut agg, dict, &mut gathered)?;
            }
            // Only the first scenario id of a group counts: the rest are not read.
            let id = match agg.wants_scenario_id() {
                true => scenario_id(&fields.get(metadata)?)?,
                false => None,
            };
            agg.end_trajectory(id);
        }
        agg.end_group();
    }
    Ok(agg)
}

/// How the objects of one class are read: their attributes `N` names, where Python's own
/// lookup would find them, without its generic steps where the class allows. Decided once per
/// class and batch: a batch is one class or two.
///
/// - A class keeping `object.__getattribute__` whose attribute is a `__slots__` member (ours:
///   `Trajectory` and `TrajectoryGroup`) has it read at the member's offset in the object, as
///   the member descriptor (a data descriptor: it comes before the instance `__dict__`)
///   reads it; an unset member still goes through getattr, for its AttributeError.
/// - A pydantic model keeps its fields in its `__dict__`. Where its class defines none of
///   the names (no property or other class attribute, which Python's lookup would put first)
///   and keeps `object.__getattribute__`, a name is read from the `__dict__` directly,
///   without getattr's lookups through the class and pydantic's `__getattr__` hook (6% of
///   reading a batch of openpipe-art's objects); a name the `__dict__` lacks still goes
///   through getattr, `__getattr__` included.
/// - Anything else uses getattr.
struct Fields<'a, 'py, const N: usize> {
    names: [&'a Bound<'py, PyString>; N],
    /// The class decided for (held, so that its address is not another's).
    class: Option<Bound<'py, PyType>>,
    how: How<N>,
}

#[derive(Clone, Copy)]
enum How<const N: usize> {
    Getattr,
    Dict,
    /// Each name's member offset, 0 for a name read with getattr.
    Slots([ffi::Py_ssize_t; N]),
}

/// One object's attributes, read as its class's [`Fields`] decided.
struct Object<'a, 'f, 'py, const N: usize> {
    obj: &'a Bound<'py, PyAny>,
    names: &'f [&'f Bound<'py, PyString>; N],
    how: How<N>,
    dict: Option<Bound<'py, PyDict>>,
}

impl<'a, 'py, const N: usize> Fields<'a, 'py, N> {
    fn new(names: [&'a Bound<'py, PyString>; N]) -> Self {
        Fields {
            names,
            class: None,
            how: How::Getattr,
        }
    }

    fn of<'o>(&mut self, obj: &'o Bound<'py, PyAny>) -> PyResult<Object<'o, '_, 'py, N>> {
        let known = self.class.as_ref().map(Bound::as_type_ptr);
        if known != Some(obj.get_type_ptr()) {
            let class = obj.get_type();
            self.how = how_to_read(&class, &self.names)?;
            self.class = Some(class);
        }
        let dict = match self.how {
            How::Dict => instance_dict(obj)?,
            _ => None,
        };
        Ok(Object {
            obj,
            names: &self.names,
            how: self.how,
            dict,
        })
    }
}

impl<'py, const N: usize> Object<'_, '_, 'py, N> {
    fn get(&self, name: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(dict) = &self.dict
            && let Some(value) = dict.get_item(name)?
        {
            return Ok(value);
        }
        if let How::Slots(offsets) = self.how
            && let Some(i) = self.names.iter().position(|n| n.is(name))
            && offsets[i] != 0
        {
            // SAFETY: `how_to_read` found this offset in a `__slots__` member of the
            // object's own class (or a base): the object holds an object pointer there,
            // NULL while unset. Read with the GIL held, as the member descriptor reads it.
            let value = unsafe {
                self.obj
                    .as_ptr()
                    .byte_offset(offsets[i])
                    .cast::<*mut ffi::PyObject>()
                    .read()
            };
            if !value.is_null() {
                // SAFETY: a live object the slot holds; the new reference is owned.
                return Ok(unsafe { Bound::from_borrowed_ptr(self.obj.py(), value) });
            }
        }
        self.obj.getattr(name)
    }
}

/// How instances of `class` are read (see [`Fields`]). Only a class keeping
/// `object.__getattribute__` is read other than with getattr: by the `__slots__` members
/// among `names` when there is one, else from the `__dict__` of a pydantic model whose
/// classes define none of `names`.
fn how_to_read<const N: usize>(
    class: &Bound<'_, PyType>,
    names: &[&Bound<'_, PyString>; N],
) -> PyResult<How<N>> {
    let py = class.py();
    let getattribute = intern!(py, "__getattribute__");
    let object_getattribute = py.get_type::<PyAny>().getattr(getattribute)?;
    if !class.getattr(getattribute)?.is(&object_getattribute) {
        return Ok(How::Getattr);
    }
    let mro = class
        .getattr(intern!(py, "__mro__"))?
        .cast_into::<PyTuple>()?;
    let mut defined = [const { None }; N];
    for (name, found) in names.iter().zip(&mut defined) {
        *found = class_attribute(&mro, name)?;
    }
    let offsets: [ffi::Py_ssize_t; N] =
        std::array::from_fn(|i| defined[i].as_ref().map_or(0, member_offset));
    if offsets.iter().any(|o| *o != 0) {
        return Ok(How::Slots(offsets));
    }
    let pydantic = match pydantic_base_model(py)? {
        Some(base_model) => class.is_subclass(base_model.bind(py))?,
        None => false,
    };
    Ok(match pydantic && defined.iter().all(Option::is_none) {
        true => How::Dict,
        false => How::Getattr,
    })
}

/// The offset of an object member descriptor (`__slots__`), else 0.
fn member_offset(descr: &Bound<'_, PyAny>) -> ffi::Py_ssize_t {
    // SAFETY: the type is compared with `member_descriptor`'s before the object is read as
    // one; its `PyMemberDef` lives as long as the class that owns the descriptor.
    unsafe {
        if ffi::Py_TYPE(descr.as_ptr()) != &raw mut ffi::PyMemberDescr_Type {
            return 0;
        }
        let member = (*descr.as_ptr().cast::<ffi::PyMemberDescrObject>())
            .d_member
            .cast::<ffi::PyMemberDef>();
        let m = &*member;
        match m.type_code == ffi::Py_T_OBJECT_EX && m.flags & ffi::Py_RELATIVE_OFFSET == 0 {
            true => m.offset,
            false => 0,
        }
    }
}

/// A dict's items as `PyDict_Next` hands them out (borrowed).
type RawItems = Vec<(*mut ffi::PyObject, *mut ffi::PyObject)>;

/// Feeds one trajectory's metrics to the aggregator, in dict order.
///
/// The items are gathered first, in a loop that does nothing else, so that the loads of a
/// fresh batch's keys and values (each its own allocation) overlap instead of following one
/// another. The pointers are borrowed: that is safe while no Python code runs, so only `str`
/// keys and `float`, `int` and `bool` values are read this way; a dict holding anything else
/// is read the plain way (a value's `__float__` could change the dict).
fn add_trajectory_metrics(
    agg: &mut BatchAggregator,
    dict: &Bound<'_, PyDict>,
    gathered: &mut RawItems,
) -> PyResult<()> {
    let py = dict.py();
    gathered.clear();
    let mut plain = true;
    let (mut pos, mut key, mut value) = (0, std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: the GIL is held and `dict` is alive; PyDict_Next hands out borrowed references
    // to its items, and reading an object's type runs no Python code.
    unsafe {
        while ffi::PyDict_Next(dict.as_ptr(), &raw mut pos, &raw mut key, &raw mut value) != 0 {
            plain &= ffi::PyUnicode_CheckExact(key) != 0
                && (ffi::PyFloat_CheckExact(value) != 0
                    || ffi::PyLong_CheckExact(value) != 0
                    || ffi::PyBool_Check(value) != 0);
            gathered.push((key, value));
        }
    }
    if !plain {
        for (i, (k, v)) in dict.iter().enumerate() {
            let key = metric_key(k, "Trajectory.metrics")?;
            let key = unicode_str(&key, "metric key")?;
            agg.trajectory_metric(i, key, number_arg(&v, key)?)
                .map_err(to_py)?;
        }
        return Ok(());
    }
    for (i, &(key, value)) in gathered.iter().enumerate() {
        // SAFETY: the dict still holds them: nothing has run since they were gathered, and
        // reading an exact str or converting a float, int or bool runs no Python code.
        // (Also checked above: the key is an exact str.)
        let (key, value) = unsafe {
            (
                Borrowed::from_ptr(py, key).cast_unchecked::<PyString>(),
                Borrowed::from_ptr(py, value),
            )
        };
        let key = unicode_str(&key, "metric key")?;
        // SAFETY: an exact float's value is a plain field read.
        let value = match unsafe { ffi::PyFloat_CheckExact(value.as_ptr()) } {
            0 => number_arg(&value, key)?,
            _ => unsafe { ffi::PyFloat_AS_DOUBLE(value.as_ptr()) },
        };
        agg.trajectory_metric(i, key, value).map_err(to_py)?;
    }
    Ok(())
}

type Items<'py> = Vec<(Bound<'py, PyString>, f64)>;

fn borrow_keys<'a>(items: &'a Items<'_>) -> PyResult<Vec<(&'a str, f64)>> {
    items.iter().map(|(k, v)| Ok((k.to_str()?, *v))).collect()
}

fn optional_metric_items<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Items<'py>> {
    if obj.is_none() {
        Ok(Vec::new())
    } else {
        metric_items(obj, what)
    }
}

/// The `(str key, float value)` pairs of a metrics dict, in its order.
pub fn metric_items<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Items<'py>> {
    let mut out = Vec::new();
    push_metric_items(obj, what, &mut out)?;
    Ok(out)
}

/// Appends the `(str key, float value)` pairs of a metrics dict to `out`, in its order.
fn push_metric_items<'py>(
    obj: &Bound<'py, PyAny>,
    what: &str,
    out: &mut Items<'py>,
) -> PyResult<()> {
    let dict = metrics_dict(obj, what)?;
    out.reserve(dict.len());
    for (k, v) in dict.iter() {
        let k = metric_key(k, what)?;
        let value = number_arg(&v, unicode_str(&k, "metric key")?)?;
        out.push((k, value));
    }
    Ok(())
}

fn metrics_dict<'a, 'py>(
    obj: &'a Bound<'py, PyAny>,
    what: &str,
) -> PyResult<&'a Bound<'py, PyDict>> {
    obj.cast::<PyDict>().map_err(|_| {
        CoreError::InvalidType(format!("{what} must be a dict, got {}", type_name(obj))).to_py()
    })
}

fn metric_key<'py>(key: Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyString>> {
    key.cast_into::<PyString>().map_err(|e| {
        CoreError::InvalidType(format!(
            "{what} keys must be str, got {}",
            type_name(e.into_inner().as_any())
        ))
        .to_py()
    })
}

/// `str(metadata["scenario_id"])`, or None when metadata has none.
fn scenario_id(metadata: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if metadata.is_none() {
        return Ok(None);
    }
    let Ok(dict) = metadata.cast::<PyDict>() else {
        return Ok(None);
    };
    match dict.get_item(intern!(metadata.py(), "scenario_id"))? {
        Some(id) if !id.is_none() => Ok(Some(unicode_str(&id.str()?, "scenario id")?.to_owned())),
        _ => Ok(None),
    }
}
