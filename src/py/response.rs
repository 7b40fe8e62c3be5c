//! Reads a Python response (a dict, or an object with attributes such as the openai and
//! anthropic SDK models) into the core's [`ResponseFields`], along the core's schema.
//!
//! Each hop is what the reference does: a `Mapping` is read with `.get(key)`, anything else
//! with `getattr(obj, key, None)`. Only the subtrees holding fields in `mask` are visited.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyMapping, PyString};

use super::convert::type_name;
use crate::pricing::usage::{RESPONSE_SCHEMA, SchemaNode};
use crate::pricing::{Field, Formula, ResponseFields, Scalar};

/// A schema node with its key as an interned Python string, made once per interpreter.
struct PyNode {
    key: Py<PyString>,
    node: &'static SchemaNode,
    children: Vec<PyNode>,
}

static SCHEMA: PyOnceLock<Vec<PyNode>> = PyOnceLock::new();

fn py_nodes(py: Python<'_>, nodes: &'static [SchemaNode]) -> Vec<PyNode> {
    nodes
        .iter()
        .map(|node| PyNode {
            key: PyString::intern(py, node.key).unbind(),
            node,
            children: py_nodes(py, node.children),
        })
        .collect()
}

/// Reads the fields `formula` needs from `response` into `out` (filled in place: it is
/// a few hundred bytes, and this runs on every tracked call).
pub fn read_response(
    response: &Bound<'_, PyAny>,
    formula: Formula,
    out: &mut ResponseFields,
) -> PyResult<()> {
    let py = response.py();
    let schema = SCHEMA.get_or_init(py, || py_nodes(py, RESPONSE_SCHEMA));
    walk(response, schema, Field::mask_for(formula), out)?;
    if let Some(mask) = Field::fallback_mask(formula, out) {
        walk(response, schema, mask, out)?;
    }
    Ok(())
}

fn walk(
    obj: &Bound<'_, PyAny>,
    nodes: &[PyNode],
    mask: u32,
    out: &mut ResponseFields,
) -> PyResult<()> {
    for n in nodes {
        if n.node.mask & mask == 0 {
            continue;
        }
        let Some(child) = read_field(obj, n.key.bind(obj.py()))? else {
            continue;
        };
        if let Some(field) = n.node.field {
            let scalar = scalar(&child)?;
            let leaf = scalar.is_leaf_value();
            out.set(field, scalar);
            if leaf {
                continue;
            }
        }
        walk(&child, &n.children, mask, out)?;
    }
    Ok(())
}

/// `obj.get(key)` for a Mapping, else `getattr(obj, key, None)`; `None` values are absent.
fn read_field<'py>(
    obj: &Bound<'py, PyAny>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let value = if let Ok(d) = obj.cast::<PyDict>() {
        d.get_item(key)?
    } else if obj.is_none() {
        None
    } else if let Ok(m) = obj.cast::<PyMapping>() {
        Some(m.call_method1("get", (key,))?)
    } else {
        obj.getattr_opt(key)?
    };
    Ok(value.filter(|v| !v.is_none()))
}

fn scalar(v: &Bound<'_, PyAny>) -> PyResult<Scalar> {
    // Token counts are almost always exact ints: the cheapest checks first.
    if let Ok(i) = v.cast_exact::<PyInt>()
        && let Ok(n) = i.extract::<i64>()
    {
        return Ok(Scalar::Number(n as f64));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Ok(Scalar::Number(f.value()));
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Scalar::Bool(b.is_true()));
    }
    if v.is_instance_of::<PyInt>() {
        // Ints too large for a float read as infinity, which the core refuses by name.
        return Ok(Scalar::Number(v.extract::<f64>().unwrap_or(f64::INFINITY)));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Scalar::Str(s.to_str()?.into()));
    }
    // numpy scalars, Decimal...: numbers that are not int or float.
    if !v.is_instance_of::<PyBytes>()
        && v.hasattr(pyo3::intern!(v.py(), "__float__"))?
        && let Ok(x) = v.extract::<f64>()
    {
        return Ok(Scalar::Number(x));
    }
    Ok(Scalar::Other(type_name(v).into()))
}
