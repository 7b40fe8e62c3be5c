//! Hooks for tests and benchmarks, built only with the cargo feature `test-hooks`
//! (`make build-dev`, `make bench`): release wheels do not have them.

use pyo3::prelude::*;

/// Does nothing: the cost of merely calling into the extension, for benchmarks.
#[pyfunction]
fn _noop() {}

/// The next `count` run-directory appends write half their bytes and fail with `errno` (a
/// full disk where a small filesystem cannot be mounted).
#[pyfunction]
fn _fail_next_appends(count: u32, errno: i32) {
    art_metrics_core::history::rundir::fail_next_appends(count, errno);
}

/// Sets the hooks as attributes of `m` without listing them in its `__all__` (which
/// `add_function` would do): the module then exports the same names with and without the
/// feature, and one `_core.pyi` passes stubtest against both builds (issue #23).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.setattr("_noop", wrap_pyfunction!(_noop, m)?)?;
    m.setattr(
        "_fail_next_appends",
        wrap_pyfunction!(_fail_next_appends, m)?,
    )?;
    Ok(())
}
