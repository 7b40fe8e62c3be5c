//! `RunCore`: the Rust half of `art_metrics.Model` (run directory and one log call), and
//! the GPU prices. Only conversions live here; the rules are in `history` and
//! `pricing::gpu`.

use crate::errors::{ToPyErr, to_py};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::batch::{aggregate, metric_items};
use crate::builder::BuilderCore;
use crate::convert::{
    dict_with_capacity, int_arg, opt_count_arg, opt_positive_count_arg, price_arg, unicode_str,
};
use art_metrics_core::error::CoreError;
use art_metrics_core::fork::{self, ForkLocks};
use art_metrics_core::history::efficiency::{
    EfficiencyInputs, EfficiencyPlan, HighWater, efficiency_plan,
};
use art_metrics_core::history::rundir::{budget_update, saved_budget};
use art_metrics_core::history::train_step::{self, TrainStepClock};
use art_metrics_core::history::{BatchSummary, LogRequest, Number, RunDir, log_step};
use art_metrics_core::metrics::builder::Builder;
use art_metrics_core::pricing::gpu;

#[pyclass(frozen, module = "art_metrics._core")]
pub struct RunCore {
    run: RunDir,
    /// When the previous train step was first logged (the run's creation at first).
    clock: Arc<TrainStepClock>,
    /// `Model(n_params=...)`, for the efficiency figures' MFU.
    n_params: Option<u64>,
    /// The most GPU memory in use seen at a train log of this run (efficiency figures).
    gpu_memory_high_water: HighWater,
}

#[pymethods]
impl RunCore {
    /// `started_s_ago`: how long ago the run started, for the first train step's wall time
    /// (an `art.Model` made before its run directory is first used); default now.
    /// `n_params`: the model's parameter count (a positive int, or None).
    #[new]
    #[pyo3(signature = (path, *, compact_min_bytes=None, started_s_ago=None, n_params=None))]
    fn new(
        path: std::path::PathBuf,
        compact_min_bytes: Option<u64>,
        started_s_ago: Option<f64>,
        n_params: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let n_params = opt_positive_count_arg(n_params, "n_params")?;
        let run = match compact_min_bytes {
            Some(b) => RunDir::with_compact_min_bytes(path, b),
            None => RunDir::new(path),
        };
        let clock = Arc::new(TrainStepClock::started_ago(started_s_ago.unwrap_or(0.0)));
        fork::register(&(Arc::clone(&clock) as Arc<dyn ForkLocks>));
        Ok(RunCore {
            run,
            clock,
            n_params,
            gpu_memory_high_water: HighWater::default(),
        })
    }

    /// Loads the run directory's totals into `builder`'s run (reading only).
    fn load_into(&self, py: Python<'_>, builder: PyRef<'_, BuilderCore>) -> PyResult<()> {
        let core = builder.core.clone();
        py.detach(|| {
            let (state, _) = self.run.open()?;
            core.restore_state(state).map(drop)
        })
        .map_err(to_py)?;
        Ok(())
    }

    /// Warnings about the run directory found since the last call, each once.
    fn take_warnings(&self) -> Vec<String> {
        self.run.take_warnings()
    }

    /// The text of state.json with the journal folded in (in memory), or None.
    fn read_state(&self, py: Python<'_>) -> PyResult<Option<String>> {
        py.detach(|| self.run.read_state()).map_err(to_py)
    }

    fn overwrite_state(&self, py: Python<'_>, json: &str, snapshot_next: bool) -> PyResult<()> {
        py.detach(|| self.run.overwrite_state(json, snapshot_next))
            .map_err(to_py)
    }

    fn merge_state(&self, py: Python<'_>, json: &str, snapshot_next: bool) -> PyResult<String> {
        py.detach(|| self.run.merge_state(json, snapshot_next))
            .map_err(to_py)
    }

    /// Saves `builder`'s run budget (or that it has none) in state.json, as the core keeps it.
    fn save_budget(
        &self,
        py: Python<'_>,
        builder: &Bound<'_, BuilderCore>,
        snapshot_next: bool,
    ) -> PyResult<()> {
        let update = budget_update(builder.get().core.budget().as_ref());
        py.detach(|| self.run.merge_state(&update, snapshot_next))
            .map_err(to_py)?;
        Ok(())
    }

    /// Sets the budget saved in state.json (if any) on `builder`'s run, with how far its
    /// warnings had gone; a saved budget the core cannot read is a ValueError naming its key.
    fn restore_budget(&self, py: Python<'_>, builder: &Bound<'_, BuilderCore>) -> PyResult<()> {
        let Some(state) = py.detach(|| self.run.read_state()).map_err(to_py)? else {
            return Ok(());
        };
        if let Some(budget) = saved_budget(state.as_bytes()).map_err(to_py)? {
            builder.get().core.set_budget(Some(budget));
        }
        Ok(())
    }

    /// Keeps `json` (rows some reporter has not received) for the next process, or removes
    /// what was kept (`None`).
    #[pyo3(signature = (json))]
    fn save_undelivered(&self, py: Python<'_>, json: Option<&[u8]>) -> PyResult<()> {
        py.detach(|| self.run.save_undelivered(json)).map_err(to_py)
    }

    /// What `save_undelivered` kept, if anything.
    fn read_undelivered<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let bytes = py.detach(|| self.run.read_undelivered()).map_err(to_py)?;
        Ok(bytes.map(|b| PyBytes::new(py, &b)))
    }

    /// Folds the journal into state.json, taking the writer lock if no one holds it.
    fn compact(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.run.compact()).map_err(to_py)
    }

    /// When this process writes the run: fold the journal and release the lock.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.run.close()).map_err(to_py)
    }

    /// Whether the journal has outgrown state.json since the last fold (a log committed
    /// with `defer_fold` leaves it so).
    fn fold_due(&self) -> bool {
        self.run.fold_due_now()
    }

    /// Folds the journal into state.json (temporary file, fsync, rename) if it is due, with
    /// the GIL released; a failure leaves it to a later row.
    fn fold_if_due(&self, py: Python<'_>) {
        py.detach(|| self.run.fold_if_due());
    }

    /// Whether this process holds the run directory's writer lock.
    fn is_writer(&self) -> bool {
        self.run.is_writer()
    }

    /// The part of a log call that reads Python objects (groups, metrics, the backend), on
    /// the caller's thread. `backend` (the model's, or None) adds the automatic train-step
    /// metrics when it has `supports_automatic_train_step_metrics()`; its
    /// `automatic_gpu_cost_per_hour_usd(model)` prices them. With `efficiency`, a train log
    /// also takes the efficiency figures' inputs (`efficiency::efficiency_plan`; the backend's
    /// `gpu_count` attribute and `n_params(model)` method where it has them) and torch's peak
    /// allocation as the caller read it; the visible GPUs are sampled later
    /// (`PreparedLog.sample_gpus`, or at the commit).
    #[pyo3(signature = (builder, groups, split, step, metrics, wall_clock_sec, recorded_at,
        backend=None, model=None, efficiency=false, torch_max_memory_bytes=None))]
    #[allow(clippy::too_many_arguments)]
    fn prepare_log<'py>(
        &self,
        builder: PyRef<'_, BuilderCore>,
        groups: Option<&Bound<'py, PyList>>,
        split: &str,
        step: &Bound<'py, PyAny>,
        metrics: Option<&Bound<'py, PyAny>>,
        wall_clock_sec: f64,
        recorded_at: &str,
        backend: Option<&Bound<'py, PyAny>>,
        model: Option<&Bound<'py, PyAny>>,
        efficiency: bool,
        torch_max_memory_bytes: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PreparedLog> {
        let step = int_arg(step, "step")?;
        let given = metrics.filter(|m| !m.is_none());
        // Parsed (and refused, naming the key) before the backend is asked anything.
        let metrics = match given {
            Some(m) => Some(
                metric_items(m, "metrics")?
                    .into_iter()
                    .map(|(k, v)| Ok((k.to_str()?.to_owned(), v)))
                    .collect::<PyResult<Vec<_>>>()?,
            ),
            None => None,
        };
        // The backend is asked each thing at most once per log.
        let mut backend = PyBackend::new(backend, model);
        let (automatic, now) = self.automatic_metrics(&mut backend, split, step, given)?;
        let efficiency = match efficiency {
            true => efficiency_plan(split, &mut backend, self.n_params)?,
            false => None,
        };
        let torch_max_memory_bytes = match efficiency {
            Some(_) => opt_count_arg(torch_max_memory_bytes, "torch_max_memory_bytes")?,
            None => None,
        };
        let batch = match groups {
            Some(groups) => Some(aggregate(groups, builder.core.dialect())?.finish(split)),
            None => None,
        };
        Ok(PreparedLog(Mutex::new(Some(Prepared {
            core: builder.core.clone(),
            split: split.to_owned(),
            step,
            batch,
            automatic,
            metrics,
            wall_clock_sec,
            recorded_at: recorded_at.to_owned(),
            efficiency,
            gpus: None,
            torch_max_memory_bytes,
            now,
        }))))
    }

    /// The file part of a log call: routes and flushes the builder and appends the row and
    /// its journal entry, with the GIL released. Returns the row as logged (NaN included) and
    /// the row keys that are the caller's own (W&B's filter in 0.5.23), or None when nothing
    /// was logged. A prepared log is written at most once. With `defer_fold`, a fold of the journal into state.json that
    /// the row makes due is left to `fold_if_due` (`Model.log` runs it off the event loop).
    #[pyo3(signature = (prepared, defer_fold=false))]
    fn commit_log<'py>(
        &self,
        py: Python<'py>,
        prepared: &PreparedLog,
        defer_fold: bool,
    ) -> PyResult<Option<(Bound<'py, PyDict>, Vec<String>)>> {
        let Some(mut p) = prepared.0.lock().take() else {
            return Err(CoreError::value("this prepared log was committed already").to_py());
        };
        if p.gpu_sample_due() {
            p.gpus = Some(py.detach(gpu::sample));
        }
        let efficiency = p.efficiency.as_ref().map(|plan| EfficiencyInputs {
            usd_per_hour: plan.usd_per_hour,
            hardware: plan.hardware(
                p.gpus.as_deref().unwrap_or_default(),
                p.torch_max_memory_bytes,
                &self.gpu_memory_high_water,
            ),
        });
        let request = LogRequest {
            split: &p.split,
            step: p.step,
            batch: p.batch,
            automatic: p.automatic,
            metrics: p.metrics,
            wall_clock_sec: p.wall_clock_sec,
            recorded_at: &p.recorded_at,
            efficiency,
            defer_fold,
        };
        let row = py
            .detach(|| log_step(&p.core, &self.run, request))
            .map_err(to_py)?;
        let Some(logged) = row else { return Ok(None) };
        if let Some(now) = p.now {
            // Only a written row moves the train-step clock (a retried log counts once).
            self.clock.commit(&p.split, p.step, now);
        }
        let out = dict_with_capacity(py, logged.row.len())?;
        for (k, v) in logged.row {
            match v {
                Number::Float(f) => out.set_item(k, f)?,
                Number::Int(i) => out.set_item(k, i)?,
            }
        }
        Ok(Some((out, logged.caller_keys)))
    }
}

/// A log call's values read from Python objects, ready to write (`RunCore.prepare_log`).
#[pyclass(frozen, module = "art_metrics._core")]
pub struct PreparedLog(Mutex<Option<Prepared>>);

#[pymethods]
impl PreparedLog {
    /// Whether the log's efficiency figures still want the visible GPUs sampled.
    fn gpu_sample_due(&self) -> bool {
        self.0.lock().as_ref().is_some_and(Prepared::gpu_sample_due)
    }

    /// Samples the visible GPUs (one nvidia-smi run, the GIL released) if that is due, so
    /// that the commit need not: `Model.log` runs this off the event loop.
    fn sample_gpus(&self, py: Python<'_>) {
        if !self.gpu_sample_due() {
            return;
        }
        // No lock is held while nvidia-smi runs.
        let gpus = py.detach(gpu::sample);
        if let Some(p) = self.0.lock().as_mut() {
            p.gpus.get_or_insert(gpus);
        }
    }
}

struct Prepared {
    core: Builder,
    split: String,
    step: i64,
    batch: Option<BatchSummary>,
    automatic: Vec<(String, f64)>,
    metrics: Option<Vec<(String, f64)>>,
    wall_clock_sec: f64,
    recorded_at: String,
    efficiency: Option<EfficiencyPlan>,
    /// The visible GPUs with their memory in use, once sampled.
    gpus: Option<Vec<gpu::GpuInfo>>,
    torch_max_memory_bytes: Option<u64>,
    /// When the automatic train-step interval was measured (None: none was).
    now: Option<Instant>,
}

impl Prepared {
    fn gpu_sample_due(&self) -> bool {
        self.gpus.is_none() && self.efficiency.as_ref().is_some_and(|e| e.sample_gpus)
    }
}

impl RunCore {
    /// The backend's automatic train-step metrics for this log (the rules and their order
    /// are `train_step::automatic_metrics`'); the backend's methods run with no lock held.
    fn automatic_metrics(
        &self,
        backend: &mut PyBackend<'_, '_>,
        split: &str,
        step: i64,
        metrics: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Automatic> {
        let provided = provided_keys(metrics)?;
        let mut measured = None;
        let interval = || {
            let now = Instant::now();
            let interval = self.clock.interval(split, step, now);
            measured = interval.map(|_| now);
            interval
        };
        let metrics =
            train_step::automatic_metrics(split, backend, interval, |key| provided.contains(&key))?;
        Ok((metrics, measured))
    }
}

/// The automatic train-step metrics of a log, and when they were measured (`None`: none).
type Automatic = (Vec<(String, f64)>, Option<Instant>);

/// A log's backend (the model's, or None) and its model, each method called at most once.
struct PyBackend<'a, 'py> {
    backend: Option<&'a Bound<'py, PyAny>>,
    model: Option<&'a Bound<'py, PyAny>>,
    supports: Option<bool>,
    rate: Option<Option<f64>>,
}

impl<'a, 'py> PyBackend<'a, 'py> {
    fn new(backend: Option<&'a Bound<'py, PyAny>>, model: Option<&'a Bound<'py, PyAny>>) -> Self {
        PyBackend {
            backend: backend.filter(|b| !b.is_none()),
            model,
            supports: None,
            rate: None,
        }
    }

    /// The model argument of a backend method (None when there is none).
    fn model_arg(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.model
            .map_or_else(|| py.None().into_bound(py), Clone::clone)
    }
}

impl train_step::Backend for PyBackend<'_, '_> {
    type Error = PyErr;

    /// `supports_automatic_train_step_metrics()`, true when it returns something true.
    fn supports(&mut self) -> PyResult<bool> {
        if let Some(known) = self.supports {
            return Ok(known);
        }
        let supports = match self.backend {
            None => false,
            Some(backend) => {
                let py = backend.py();
                match backend.getattr_opt(intern!(py, "supports_automatic_train_step_metrics"))? {
                    Some(f) if f.is_callable() => f.call0()?.is_truthy()?,
                    _ => false,
                }
            }
        };
        self.supports = Some(supports);
        Ok(supports)
    }

    /// `automatic_gpu_cost_per_hour_usd(model)`, read as a price.
    fn usd_per_hour(&mut self) -> PyResult<Option<f64>> {
        if let Some(known) = self.rate {
            return Ok(known);
        }
        let rate = match self.backend {
            None => None,
            Some(backend) => {
                let py = backend.py();
                match backend
                    .getattr_opt(intern!(py, "automatic_gpu_cost_per_hour_usd"))?
                    .filter(PyAnyMethods::is_callable)
                {
                    None => None,
                    Some(getter) => {
                        let result = getter.call1((self.model_arg(py),))?;
                        price_arg(Some(&result), "automatic_gpu_cost_per_hour_usd()")?
                    }
                }
            }
        };
        self.rate = Some(rate);
        Ok(rate)
    }

    /// The backend's `gpu_count` attribute (an int or None; a method of that name is not
    /// one). Asked once per log, by the efficiency figures only.
    fn gpu_count(&mut self) -> PyResult<Option<u64>> {
        let Some(backend) = self.backend else {
            return Ok(None);
        };
        match backend.getattr_opt(intern!(backend.py(), "gpu_count"))? {
            Some(count) if !count.is_callable() => opt_count_arg(Some(&count), "gpu_count"),
            _ => Ok(None),
        }
    }

    /// `n_params(model)`, a positive int or None. Asked once per log, by the efficiency
    /// figures only, when the model has no `n_params` of its own.
    fn n_params(&mut self) -> PyResult<Option<u64>> {
        let Some(backend) = self.backend else {
            return Ok(None);
        };
        let py = backend.py();
        match backend
            .getattr_opt(intern!(py, "n_params"))?
            .filter(PyAnyMethods::is_callable)
        {
            Some(method) => {
                let result = method.call1((self.model_arg(py),))?;
                opt_positive_count_arg(Some(&result), "n_params()")
            }
            None => Ok(None),
        }
    }
}

/// The automatic metric keys the caller's `metrics` dict gives itself.
fn provided_keys(metrics: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<&'static str>> {
    let Some(dict) = metrics.and_then(|m| m.cast::<PyDict>().ok()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for key in [train_step::STEP_WALL_KEY, train_step::GPU_COST_KEY] {
        if dict.contains(key)? {
            out.push(key);
        }
    }
    Ok(out)
}

/// Refuses a `name`/`project` that is not one folder name (`history::rundir::names`): a
/// `ValueError` naming the argument `what`.
#[pyfunction]
pub fn _check_path_component(value: &Bound<'_, PyString>, what: &str) -> PyResult<()> {
    art_metrics_core::history::rundir::names::path_component(unicode_str(value, what)?, what)
        .map_err(to_py)
}

/// In a forked child (`os.register_at_fork(after_in_child=...)`, registered by
/// `art_metrics.model`): repairs the core's locks that vanished threads held (see
/// `art_metrics_core::fork`). Returns how many were found held.
#[pyfunction]
pub fn _after_fork_in_child() -> usize {
    let registry = || {
        // SAFETY: called only in the child right after fork, before any thread starts.
        unsafe { art_metrics_core::history::rundir::repair_registry_in_child() }
    };
    // SAFETY: as above.
    unsafe { fork::after_fork_in_child(&[&registry]) }
}

/// `(visible GPU names, USD per hour of each or None)` from nvidia-smi and
/// CUDA_VISIBLE_DEVICES.
#[pyfunction]
pub fn detect_gpus(py: Python<'_>) -> (Vec<String>, Vec<Option<f64>>) {
    let found = py.detach(gpu::detect);
    (
        found.visible.into_iter().map(|g| g.name).collect(),
        found.usd_per_hour,
    )
}

/// USD per hour for all of a backend's GPUs (rules in `gpu::backend_usd_per_hour`); the
/// per-GPU price and the GPU count are each given or (only then) taken from `detect()`,
/// which returns `detect_gpus()`'s pair. Warns (UserWarning, once per cause) when no rate
/// can be known.
#[pyfunction]
#[pyo3(signature = (usd_per_gpu_hour, gpu_count, detect))]
pub fn backend_gpu_cost_per_hour(
    py: Python<'_>,
    usd_per_gpu_hour: Option<&Bound<'_, PyAny>>,
    gpu_count: Option<&Bound<'_, PyAny>>,
    detect: &Bound<'_, PyAny>,
) -> PyResult<Option<f64>> {
    let per_gpu = price_arg(usd_per_gpu_hour, "gpu_cost_per_hour_usd")?;
    let count = opt_count_arg(gpu_count, "gpu_count")?;
    let mut detected = Ok(());
    let rate = gpu::backend_usd_per_hour(per_gpu, count, || {
        match detect
            .call0()
            .and_then(|found| found.extract::<(Vec<String>, Vec<Option<f64>>)>())
        {
            Ok((names, prices)) => names.into_iter().zip(prices).collect(),
            Err(e) => {
                detected = Err(e);
                Vec::new()
            }
        }
    });
    detected?;
    if let Some(message) = rate.warning {
        crate::notices::warn(py, &message)?;
    }
    Ok(rate.usd_per_hour)
}

/// USD for `wall_s` seconds of GPU time at `usd_per_hour`: the one formula for `costs/gpu`.
#[pyfunction]
pub fn gpu_cost_usd(wall_s: f64, usd_per_hour: f64) -> f64 {
    gpu::gpu_cost_usd(wall_s, usd_per_hour)
}
