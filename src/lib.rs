//! The `art_metrics._core` extension module: thin bindings over the core crate
//! (`art_metrics_core`, in `crates/art-metrics-core`), which knows nothing of Python. Each
//! module here converts Python values into the core's types and the core's errors into
//! Python exceptions.

mod attrs;
mod batch;
mod budget;
mod builder;
mod calls;
mod catalog;
mod convert;
mod errors;
mod extractors;
mod model;
mod notices;
mod pending;
mod pricing;
mod response;
mod steps;
mod tracked;

#[cfg(feature = "test-hooks")]
mod test_hooks;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<builder::BuilderCore>()?;
    m.add_class::<model::RunCore>()?;
    m.add_class::<model::PreparedLog>()?;
    let [v1, v2] = art_metrics_core::metrics::dialect::SUPPORTED_ART_VERSIONS;
    m.add("SUPPORTED_ART_VERSIONS", (v1, v2))?;
    m.add_function(wrap_pyfunction!(builder::_wandb_row_keys, m)?)?;
    m.add_function(wrap_pyfunction!(builder::_wandb_setup, m)?)?;
    m.add_class::<pending::PendingMetrics>()?;
    m.add_function(wrap_pyfunction!(model::detect_gpus, m)?)?;
    m.add_function(wrap_pyfunction!(model::backend_gpu_cost_per_hour, m)?)?;
    m.add_function(wrap_pyfunction!(model::gpu_cost_usd, m)?)?;
    m.add_function(wrap_pyfunction!(model::_after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(model::_check_path_component, m)?)?;
    m.add_function(wrap_pyfunction!(notices::_split_notice, m)?)?;
    m.add_function(wrap_pyfunction!(budget::_set_budget_handler, m)?)?;
    m.add_class::<steps::StepTable>()?;
    m.add(
        "THROUGHPUT_LABELS",
        art_metrics_core::history::steps::THROUGHPUT_LABELS.to_vec(),
    )?;
    m.add_function(wrap_pyfunction!(steps::format_summary_line, m)?)?;
    m.add_function(wrap_pyfunction!(steps::cost_sources, m)?)?;
    m.add_class::<pricing::CostTracker>()?;
    m.add_class::<tracked::TrackedFunction>()?;
    m.add_function(wrap_pyfunction!(calls::_set_call_handler, m)?)?;
    m.add(
        "CatalogCacheWarning",
        m.py().get_type::<catalog::CatalogCacheWarning>(),
    )?;
    m.add(
        "CatalogRefreshWarning",
        m.py().get_type::<catalog::CatalogRefreshWarning>(),
    )?;
    m.add(
        "CostTrackingWarning",
        m.py().get_type::<pricing::CostTrackingWarning>(),
    )?;
    m.add("DEFAULT_CATALOG_URL", catalog::DEFAULT_URL)?;
    m.add_function(wrap_pyfunction!(catalog::_catalog_entries, m)?)?;
    m.add_function(wrap_pyfunction!(catalog::_lookup, m)?)?;
    m.add_function(wrap_pyfunction!(catalog::_catalog_info, m)?)?;
    m.add_function(wrap_pyfunction!(catalog::_refresh_catalog, m)?)?;
    m.add_class::<catalog::DownloadProgress>()?;
    m.add_function(wrap_pyfunction!(catalog::_reload_catalog, m)?)?;
    m.add_function(wrap_pyfunction!(catalog::_catalog_cache_path, m)?)?;
    #[cfg(feature = "test-hooks")]
    test_hooks::register(m)?;
    Ok(())
}
