//! The `art_metrics._core` extension module: thin bindings over the core.

mod builder;
mod convert;
mod errors;
mod model;

use pyo3::prelude::*;

/// Does nothing: the cost of merely calling into the extension, for benchmarks.
#[pyfunction]
fn _noop() {}

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<builder::BuilderCore>()?;
    m.add_class::<model::RunCore>()?;
    m.add_function(wrap_pyfunction!(model::detect_gpus, m)?)?;
    m.add_function(wrap_pyfunction!(_noop, m)?)?;
    Ok(())
}
