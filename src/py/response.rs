//! Reads a Python response (a dict, or an object with attributes such as the openai and
//! anthropic SDK models) into the core's [`ResponseFields`], along the core's schema.
//!
//! Each hop is what the reference does: a `Mapping` is read with `.get(key)`, anything else
//! with `getattr(obj, key, None)`. Only the subtrees holding fields in `mask` are visited.
//! A list or tuple is a stream's events, read one by one and merged by the core's rule
//! ([`ResponseFields::merge_later`]); an event without usage is read through the response
//! it wraps ([`WRAPPER_KEYS`]).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyBytes, PyDateTime, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple,
};

use super::convert::type_name;
use crate::pricing::usage::{MODALITY_KEYS, RESPONSE_SCHEMA, SchemaNode, WRAPPER_KEYS};
use crate::pricing::{Field, Formula, ResponseFields, Scalar};

/// A schema node with its key as an interned Python string, made once per interpreter.
struct PyNode {
    key: Py<PyString>,
    node: &'static SchemaNode,
    children: Vec<PyNode>,
}

static SCHEMA: PyOnceLock<Vec<PyNode>> = PyOnceLock::new();
static KEYS: PyOnceLock<[Py<PyString>; 5]> = PyOnceLock::new();

fn keys(py: Python<'_>) -> &[Py<PyString>; 5] {
    KEYS.get_or_init(py, || {
        let k = |s| PyString::intern(py, s).unbind();
        [
            k(WRAPPER_KEYS[0]),
            k(WRAPPER_KEYS[1]),
            k(MODALITY_KEYS[0]),
            k(MODALITY_KEYS[1]),
            k(MODALITY_KEYS[2]),
        ]
    })
}

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

/// Reads the fields `formula` needs from `response` (a response, a stream event, or a list
/// or tuple of stream events) into `out` (filled in place: it is a few hundred bytes, and
/// this runs on every tracked call).
pub fn read_response(
    response: &Bound<'_, PyAny>,
    formula: Formula,
    out: &mut ResponseFields,
) -> PyResult<()> {
    let events = if let Ok(list) = response.cast_exact::<PyList>() {
        list.iter().collect::<Vec<_>>()
    } else if let Ok(tuple) = response.cast_exact::<PyTuple>() {
        tuple.iter().collect::<Vec<_>>()
    } else {
        return read_event(response, formula, out);
    };
    for event in events {
        let mut fields = ResponseFields::default();
        read_event(&event, formula, &mut fields)?;
        out.merge_later(fields);
    }
    Ok(())
}

fn read_one(obj: &Bound<'_, PyAny>, formula: Formula, out: &mut ResponseFields) -> PyResult<()> {
    let py = obj.py();
    let schema = SCHEMA.get_or_init(py, || py_nodes(py, RESPONSE_SCHEMA));
    walk(obj, schema, Field::mask_for(formula), out)?;
    if let Some(mask) = Field::fallback_mask(formula, out) {
        walk(obj, schema, mask, out)?;
    }
    Ok(())
}

fn read_event(obj: &Bound<'_, PyAny>, formula: Formula, out: &mut ResponseFields) -> PyResult<()> {
    read_one(obj, formula, out)?;
    if out.carries_usage() {
        return Ok(());
    }
    for key in &keys(obj.py())[..2] {
        if let Some(inner) = read_field(obj, key.bind(obj.py()))? {
            let mut fields = ResponseFields::default();
            read_one(&inner, formula, &mut fields)?;
            if fields.carries_usage() {
                *out = fields;
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Adds the counts of a list of `{modality, token_count}` items to their fields.
fn read_modalities(
    list: &Bound<'_, PyAny>,
    node: &SchemaNode,
    out: &mut ResponseFields,
) -> PyResult<()> {
    let py = list.py();
    let k = keys(py);
    let Ok(items) = list.try_iter() else {
        return Ok(());
    };
    for item in items {
        let item = item?;
        let Some(modality) = read_field(&item, k[2].bind(py))? else {
            continue;
        };
        // `to_str`, not `str()`: google-genai's MediaModality is a str enum.
        let Some(modality) = modality
            .cast::<PyString>()
            .ok()
            .and_then(|m| m.to_str().ok().map(str::to_owned))
        else {
            continue;
        };
        let Some((_, field)) = node
            .modalities
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(&modality))
        else {
            continue;
        };
        let count = match read_field(&item, k[3].bind(py))? {
            Some(c) => Some(c),
            None => read_field(&item, k[4].bind(py))?,
        };
        if let Some(count) = count {
            out.add_tokens(*field, scalar(&count)?);
        }
    }
    Ok(())
}

fn walk(
    obj: &Bound<'_, PyAny>,
    nodes: &[PyNode],
    mask: u64,
    out: &mut ResponseFields,
) -> PyResult<()> {
    for n in nodes {
        if n.node.mask & mask == 0 {
            continue;
        }
        let Some(child) = read_field(obj, n.key.bind(obj.py()))? else {
            continue;
        };
        if !n.node.modalities.is_empty() {
            read_modalities(&child, n.node, out)?;
            continue;
        }
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
    // A datetime (Gemini's `create_time` in the SDK): seconds since the epoch.
    if v.is_instance_of::<PyDateTime>()
        && let Ok(x) = v
            .call_method0(pyo3::intern!(v.py(), "timestamp"))
            .and_then(|t| t.extract::<f64>())
    {
        return Ok(Scalar::Number(x));
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
