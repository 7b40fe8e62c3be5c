//! `RunCore`: the Rust half of `art_metrics.Model` (run directory and one log call), and
//! GPU detection. Only conversions live here; the rules are in `rows`, `logstep`, `rundir`.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::builder::BuilderCore;
use super::convert::{number_arg, type_name};
use crate::history::log_step::{LogRequest, log_step};
use crate::history::rundir::RunDir;
use crate::history::{BatchAggregator, Number};
use crate::pricing::gpu;

#[pyclass(frozen, module = "art_metrics._core")]
pub struct RunCore {
    run: RunDir,
}

#[pymethods]
impl RunCore {
    #[new]
    #[pyo3(signature = (path, *, compact_min_bytes=None))]
    fn new(path: std::path::PathBuf, compact_min_bytes: Option<u64>) -> Self {
        let run = RunDir::new(path);
        RunCore {
            run: match compact_min_bytes {
                Some(b) => run.with_compact_min_bytes(b),
                None => run,
            },
        }
    }

    /// Repairs and reconciles the run directory, then loads its totals into `builder`'s run.
    fn load_into(&self, py: Python<'_>, builder: PyRef<'_, BuilderCore>) -> PyResult<()> {
        let core = builder.core.clone();
        py.detach(|| {
            let state = self.run.open()?;
            core.load_state(state)
        })?;
        Ok(())
    }

    /// The text of state.json (journal folded in), or None.
    fn read_state(&self, py: Python<'_>) -> PyResult<Option<String>> {
        Ok(py.detach(|| self.run.read_state())?)
    }

    fn overwrite_state(&self, py: Python<'_>, json: &str, snapshot_next: bool) -> PyResult<()> {
        Ok(py.detach(|| self.run.overwrite_state(json, snapshot_next))?)
    }

    fn merge_state(&self, py: Python<'_>, json: &str, snapshot_next: bool) -> PyResult<String> {
        Ok(py.detach(|| self.run.merge_state(json, snapshot_next))?)
    }

    /// Folds the journal into state.json.
    fn compact(&self, py: Python<'_>) -> PyResult<()> {
        Ok(py.detach(|| self.run.compact())?)
    }

    /// One log call; returns the row as logged (NaN included) or None when nothing was.
    #[pyo3(signature = (builder, groups, split, step, automatic, metrics, wall_clock_sec, recorded_at))]
    #[allow(clippy::too_many_arguments)]
    fn log<'py>(
        &self,
        py: Python<'py>,
        builder: PyRef<'_, BuilderCore>,
        groups: Option<&Bound<'py, PyList>>,
        split: &str,
        step: i64,
        automatic: Vec<(String, f64)>,
        metrics: Option<&Bound<'py, PyAny>>,
        wall_clock_sec: f64,
        recorded_at: &str,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let metrics = match metrics {
            Some(m) if !m.is_none() => Some(
                metric_items(m, "metrics")?
                    .into_iter()
                    .map(|(k, v)| Ok((k.to_str()?.to_owned(), v)))
                    .collect::<PyResult<Vec<_>>>()?,
            ),
            _ => None,
        };
        let batch = match groups {
            Some(groups) => Some(aggregate(groups)?.finish(split)),
            None => None,
        };
        let request = LogRequest {
            split,
            step,
            batch,
            automatic,
            metrics,
            wall_clock_sec,
            recorded_at,
        };
        let core = builder.core.clone();
        let row = py.detach(|| log_step(&core, &self.run, request))?;
        let Some(row) = row else { return Ok(None) };
        let out = PyDict::new(py);
        for (k, v) in row {
            match v {
                Number::Float(f) => out.set_item(k, f)?,
                Number::Int(i) => out.set_item(k, i)?,
            }
        }
        Ok(Some(out))
    }
}

/// `(visible GPU names, USD per GPU-hour or None)` from nvidia-smi and CUDA_VISIBLE_DEVICES.
#[pyfunction]
pub fn detect_gpus(py: Python<'_>) -> (Vec<String>, Option<f64>) {
    let found = py.detach(gpu::detect);
    (
        found.visible.into_iter().map(|g| g.name).collect(),
        found.usd_per_gpu_hour,
    )
}

/// Feeds every group (ours or openpipe-art's: any object with `trajectories`, `exceptions`,
/// `metadata`, `metrics`) to the aggregator.
fn aggregate(groups: &Bound<'_, PyList>) -> PyResult<BatchAggregator> {
    let mut agg = BatchAggregator::new();
    for group in groups.iter() {
        let trajectories = group.getattr("trajectories")?;
        let trajectories: Vec<Bound<'_, PyAny>> =
            trajectories.try_iter()?.collect::<PyResult<_>>()?;
        let num_exceptions = match group.getattr("exceptions")? {
            e if e.is_none() => 0,
            e => e.len()?,
        };
        let metrics = optional_metric_items(&group.getattr("metrics")?, "TrajectoryGroup.metrics")?;
        let metrics: Vec<(&str, f64)> = borrow_keys(&metrics)?;
        let group_id = scenario_id(&group.getattr("metadata")?)?;
        agg.begin_group(metrics, group_id, trajectories.len(), num_exceptions)?;
        for t in &trajectories {
            let reward = number_arg(&t.getattr("reward")?, "reward")?;
            let metrics = optional_metric_items(&t.getattr("metrics")?, "Trajectory.metrics")?;
            let metrics = borrow_keys(&metrics)?;
            let id = scenario_id(&t.getattr("metadata")?)?;
            agg.add_trajectory(reward, metrics, id)?;
        }
        agg.end_group();
    }
    Ok(agg)
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
fn metric_items<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Items<'py>> {
    let dict = obj.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!("{what} must be a dict, got {}", type_name(obj)))
    })?;
    let mut out = Vec::with_capacity(dict.len());
    for (k, v) in dict.iter() {
        let k = k.cast_into::<PyString>().map_err(|e| {
            PyTypeError::new_err(format!(
                "{what} keys must be str, got {}",
                type_name(e.into_inner().as_any())
            ))
        })?;
        let value = number_arg(&v, k.to_str()?)?;
        out.push((k, value));
    }
    Ok(out)
}

/// `str(metadata["scenario_id"])`, or None when metadata has none.
fn scenario_id(metadata: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if metadata.is_none() {
        return Ok(None);
    }
    let Ok(dict) = metadata.cast::<PyDict>() else {
        return Ok(None);
    };
    match dict.get_item("scenario_id")? {
        Some(id) if !id.is_none() => Ok(Some(id.str()?.to_str()?.to_owned())),
        _ => Ok(None),
    }
}
