//! `BuilderCore`: the Rust half of `art_metrics.MetricsBuilder`.

use crate::errors::{ToPyErr, to_py};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyMapping, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use crate::convert::{
    dict_with_capacity, name_arg, number_arg, opt_number_arg, price_arg, required_price_arg,
    str_arg, type_name, unicode_str,
};
use crate::extractors::CostExtractors;
use crate::pending::PendingMetrics;
use crate::pricing::Target;
use art_metrics_core::error::CoreError;
use art_metrics_core::metrics::dialect::Param;
use art_metrics_core::metrics::totals::TotalsState;
use art_metrics_core::metrics::{ArtVersion, Builder};
use art_metrics_core::pricing::{TokenPricing, normalize_provider};

#[pyclass(subclass, frozen, module = "art_metrics._core")]
pub struct BuilderCore {
    pub(crate) core: Builder,
    /// The run's cost extractors, shared by every builder of the run.
    extractors: Py<CostExtractors>,
}

impl BuilderCore {
    /// What pricing records through: the core handle and the run's cost extractors.
    pub(crate) fn target(&self) -> Target<'_> {
        Target {
            core: &self.core,
            extractors: self.extractors.get(),
        }
    }

    /// Records the numbers bound to `params` (each under its key), all or nothing.
    fn add_params(
        &self,
        method: &str,
        params: &[Param],
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let names: Vec<&str> = params.iter().map(|p| p.name).collect();
        let bound = bind_args(method, &names, args, kwargs)?;
        let mut parsed: Vec<(&str, f64)> = Vec::with_capacity(params.len());
        for (param, obj) in params.iter().zip(&bound) {
            if let Some(v) = opt_number_arg(obj.as_ref(), param.key)? {
                parsed.push((param.key, v));
            }
        }
        self.core.add_metrics(&parsed).map_err(to_py)
    }
}

/// Binds `args` and `kwargs` to the keyword-or-positional parameters `names` (each defaulting
/// to None), as Python binds a `def method(self, a=None, b=None)`: the parameter names are
/// the run's openpipe-art version's, so the other version's names are refused the same way.
fn bind_args<'py>(
    method: &str,
    names: &[&str],
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Vec<Option<Bound<'py, PyAny>>>> {
    let refuse = |msg: String| -> PyErr {
        CoreError::InvalidType(format!("MetricsBuilder.{method}() {msg}")).to_py()
    };
    if args.len() > names.len() {
        return Err(refuse(format!(
            "takes from 1 to {} positional arguments but {} were given",
            names.len() + 1,
            args.len() + 1
        )));
    }
    let mut bound: Vec<Option<Bound<'py, PyAny>>> = args.iter().map(Some).collect();
    bound.resize(names.len(), None);
    if let Some(kwargs) = kwargs {
        for (key, value) in kwargs.iter() {
            let key = key.cast_into::<PyString>()?;
            let key = unicode_str(&key, "keyword argument")?;
            match names.iter().position(|n| *n == key) {
                None => {
                    return Err(refuse(format!(
                        "got an unexpected keyword argument '{key}'"
                    )));
                }
                Some(i) if i < args.len() => {
                    return Err(refuse(format!("got multiple values for argument '{key}'")));
                }
                Some(i) => bound[i] = Some(value),
            }
        }
    }
    Ok(bound)
}

#[pymethods]
impl BuilderCore {
    #[new]
    #[pyo3(signature = (cost_context, *, art_version=None, _share_with=None, _buffer_scope=None))]
    fn new(
        cost_context: &Bound<'_, PyAny>,
        art_version: Option<&Bound<'_, PyAny>>,
        _share_with: Option<PyRef<'_, BuilderCore>>,
        _buffer_scope: Option<&str>,
    ) -> PyResult<Self> {
        let py = cost_context.py();
        let cost_context = str_arg(cost_context, "cost_context")?;
        let art_version = match art_version {
            Some(v) if !v.is_none() => {
                Some(ArtVersion::parse(str_arg(v, "art_version")?).map_err(to_py)?)
            }
            _ => None,
        };
        match _share_with {
            None => Ok(BuilderCore {
                core: Builder::with_version(cost_context, art_version.unwrap_or_default())
                    .map_err(to_py)?,
                extractors: Py::new(py, CostExtractors::default())?,
            }),
            Some(parent) => {
                if let Some(v) = art_version {
                    parent.core.check_run_version(v).map_err(to_py)?;
                }
                let core = parent
                    .core
                    .for_cost_context(cost_context, _buffer_scope)
                    .map_err(to_py)?
                    .unwrap_or_else(|| parent.core.clone());
                Ok(BuilderCore {
                    core,
                    extractors: parent.extractors.clone_ref(py),
                })
            }
        }
    }

    /// The cost context: judge costs recorded through this builder go under `costs/<it>/`.
    #[getter]
    fn cost_context(&self) -> &str {
        self.core.cost_context()
    }

    #[getter]
    fn _buffer_scope(&self) -> &str {
        self.core.buffer_scope()
    }

    /// The openpipe-art version whose vocabulary and rules the run follows.
    #[getter]
    fn art_version(&self) -> &'static str {
        self.core.art_version().as_str()
    }

    /// Adds `value` to the metric `key` (`section/name`) of the pending step.
    fn add_metric(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let key = str_arg(key, "Metric key")?;
        let value = number_arg(value, key)?;
        let core = &slf.get().core;
        core.add_metric(key, value).map_err(to_py)?;
        if art_metrics_core::metrics::budget::is_spend(key) {
            crate::budget::after_cost(slf.py(), slf.as_any(), core, None)?;
        }
        Ok(())
    }

    /// Adds `usd` dollars to `costs/<path>`.
    fn add_cost(
        slf: &Bound<'_, Self>,
        path: &Bound<'_, PyAny>,
        usd: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let path = str_arg(path, "Cost path")?;
        let usd = match usd.cast_exact::<PyFloat>() {
            Ok(f) => f.value(),
            // Only the slower path needs the full key, for its error messages.
            Err(_) => number_arg(
                usd,
                &art_metrics_core::metrics::keys::cost_key(path).map_err(to_py)?,
            )?,
        };
        let core = &slf.get().core;
        core.add_cost(path, usd).map_err(to_py)?;
        if let Some(message) = art_metrics_core::notices::doubled_cost_prefix(path) {
            crate::notices::warn(slf.py(), &message)?;
        }
        crate::budget::after_cost(slf.py(), slf.as_any(), core, None)
    }

    /// Sets the run's budget in USD, for every builder of the run (`None` removes it;
    /// `warn_at=None`: the core's default thresholds).
    #[pyo3(signature = (usd, *, on_exceed="warn", warn_at=None))]
    fn set_budget(
        &self,
        usd: Option<&Bound<'_, PyAny>>,
        on_exceed: &str,
        warn_at: Option<Vec<f64>>,
    ) -> PyResult<()> {
        let usd = match usd.filter(|u| !u.is_none()) {
            Some(u) => Some(number_arg(u, "budget usd")?),
            None => None,
        };
        crate::budget::set_budget(&self.core, usd, on_exceed, warn_at)
    }

    /// The run's budget as state.json keeps it (JSON text of its keys), or None.
    fn _budget_json(&self) -> Option<String> {
        self.core.budget().map(|b| b.state_json())
    }

    /// The run's spend in USD: recorded costs plus every pending one.
    fn spend_usd(&self, py: Python<'_>) -> f64 {
        py.detach(|| self.core.spend_usd())
    }

    /// Checks the budget now (after costs recorded outside a builder call, such as a log).
    fn _check_budget(slf: &Bound<'_, Self>) -> PyResult<()> {
        crate::budget::after_cost(slf.py(), slf.as_any(), &slf.get().core, None)
    }

    /// An id shared by every builder of the same run.
    fn _run_id(&self) -> usize {
        self.core.run_id()
    }

    /// Turns on or off the report of each priced call of the run to the call handler
    /// (`_set_call_handler`), for every builder of the run.
    fn _report_calls(&self, on: bool) {
        self.core.set_reports_calls(on);
    }

    /// `add_data(step_num_scenarios=None, step_actor_tokens=None, scenario_ids=None)` in
    /// 0.5.18, `step_rollout_tokens` in 0.5.23: records `data/step_num_scenarios`, the
    /// tokens (`data/step_actor_tokens` / `data/step_rollout_tokens`) and scenario ids.
    #[pyo3(signature = (*args, **kwargs))]
    fn add_data(
        &self,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let [scenarios, tokens] = self.core.dialect().data_params;
        let [num, tok, ids] = <[_; 3]>::try_from(bind_args(
            "add_data",
            &[scenarios.name, tokens.name, "scenario_ids"],
            args,
            kwargs,
        )?)
        .expect("three parameters");
        let num = opt_number_arg(num.as_ref(), scenarios.key)?;
        let tok = opt_number_arg(tok.as_ref(), tokens.key)?;
        let ids = match ids {
            Some(ids) if !ids.is_none() => Some(scenario_id_list(&ids)?),
            _ => None,
        };
        self.core.add_data(num, tok, ids).map_err(to_py)
    }

    /// `add_user_timing(step_wall_s=None, step_actor_s=None, step_eval_s=None)` in 0.5.18,
    /// `step_rollout_s` in 0.5.23: records `time/step_wall_s`, `time/step_actor_s` /
    /// `time/step_rollout_s` and `time/step_eval_s`.
    #[pyo3(signature = (*args, **kwargs))]
    fn add_user_timing(
        &self,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let params = &self.core.dialect().timing_params;
        self.add_params("add_user_timing", params, args, kwargs)
    }

    /// `add_idle_times(step_trainer_idle_s=None, step_actor_idle_s=None)` in 0.5.18 (keys
    /// under `throughput/`), `step_rollout_idle_s` in 0.5.23 (keys under `time/`).
    #[pyo3(signature = (*args, **kwargs))]
    fn add_idle_times(
        &self,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let params = &self.core.dialect().idle_params;
        self.add_params("add_idle_times", params, args, kwargs)
    }

    /// Drains this builder's buffer scope and returns the step's metrics (GIL released).
    fn _flush<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let metrics = py.detach(|| self.core.flush());
        let out = dict_with_capacity(py, metrics.len())?;
        for (k, v) in metrics.iter() {
            out.set_item(k, v)?;
        }
        Ok(out)
    }

    /// Takes this scope's pending leaves out (no rollups, totals untouched); drops its
    /// pending scenario ids.
    fn _drain_pending<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let values = self.core.drain_pending();
        let out = dict_with_capacity(py, values.len())?;
        for (k, v) in values {
            out.set_item(k, v)?;
        }
        Ok(out)
    }

    /// Takes this scope's pending step (values and scenario ids) out, as a `PendingMetrics`
    /// to merge into the driver's run with `merge_pending`.
    fn export_pending(&self) -> PendingMetrics {
        PendingMetrics {
            core: self.core.export_pending(),
        }
    }

    /// Adds a worker's `PendingMetrics` to its cost context and buffer scope of this run.
    /// Returns False, adding nothing, when this run already merged it. A refused merge
    /// (`ValueError`) adds nothing.
    fn merge_pending(&self, pending: &Bound<'_, PyAny>) -> PyResult<bool> {
        let pending = pending
            .cast::<PendingMetrics>()
            .map_err(|_| {
                CoreError::InvalidType(format!(
                    "merge_pending expects a PendingMetrics (from export_pending()), got {}",
                    type_name(pending)
                ))
            })
            .map_err(to_py)?;
        self.core.merge_pending(&pending.get().core).map_err(to_py)
    }

    /// The builder for `cost_context` over the same run (this one when nothing changes).
    #[pyo3(signature = (cost_context, *, buffer_scope=None))]
    fn for_cost_context(
        slf: &Bound<'_, Self>,
        cost_context: &Bound<'_, PyAny>,
        buffer_scope: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let cost_context = str_arg(cost_context, "cost_context")?;
        let buffer_scope = match buffer_scope {
            Some(s) if !s.is_none() => Some(str_arg(s, "buffer_scope")?),
            _ => None,
        };
        match slf
            .get()
            .core
            .for_cost_context(cost_context, buffer_scope)
            .map_err(to_py)?
        {
            None => Ok(slf.clone().into_any().unbind()),
            Some(child) => {
                let kwargs = PyDict::new(slf.py());
                kwargs.set_item("_share_with", slf)?;
                kwargs.set_item("_buffer_scope", child.buffer_scope())?;
                Ok(slf
                    .get_type()
                    .call((child.cost_context(),), Some(&kwargs))?
                    .unbind())
            }
        }
    }

    /// Registers token prices (USD per million tokens) for `model_name`, shared by the run.
    #[pyo3(signature = (model_name, *, prompt_per_million, completion_per_million,
        cached_prompt_per_million=None, cache_creation_per_million=None, cache_read_per_million=None))]
    fn register_model_pricing(
        &self,
        model_name: &Bound<'_, PyAny>,
        prompt_per_million: &Bound<'_, PyAny>,
        completion_per_million: &Bound<'_, PyAny>,
        cached_prompt_per_million: Option<&Bound<'_, PyAny>>,
        cache_creation_per_million: Option<&Bound<'_, PyAny>>,
        cache_read_per_million: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let model_name = str_arg(model_name, "model_name")?;
        let pricing = TokenPricing {
            prompt_per_million: required_price_arg(prompt_per_million, "prompt_per_million")?,
            completion_per_million: required_price_arg(
                completion_per_million,
                "completion_per_million",
            )?,
            cached_prompt_per_million: price_arg(
                cached_prompt_per_million,
                "cached_prompt_per_million",
            )?,
            cache_creation_per_million: price_arg(
                cache_creation_per_million,
                "cache_creation_per_million",
            )?,
            cache_read_per_million: price_arg(cache_read_per_million, "cache_read_per_million")?,
        };
        self.core
            .register_model_pricing(model_name, pricing)
            .map_err(to_py)
    }

    /// Registers `extractor(response) -> float | None` for `provider`, shared by the run.
    fn register_cost_extractor(
        &self,
        provider: &Bound<'_, PyAny>,
        extractor: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let provider = name_arg(provider, "provider", normalize_provider)?;
        if !extractor.is_callable() {
            return Err(CoreError::InvalidType(format!(
                "cost extractor for provider '{provider}' must be callable, got {}",
                type_name(&extractor)
            ))
            .to_py());
        }
        self.extractors.get().insert(provider, extractor.unbind());
        Ok(())
    }

    /// Prices `response` (reported cost, extractor, token prices) and records it under
    /// `costs/<cost_context>/<source>`; returns the cost.
    #[pyo3(signature = (source, response, *, provider, model_name,
        prompt_price_per_million=None, completion_price_per_million=None,
        cached_prompt_price_per_million=None, cache_creation_price_per_million=None,
        cache_read_price_per_million=None, batch=false))]
    #[allow(clippy::too_many_arguments)]
    fn add_response_cost(
        slf: &Bound<'_, Self>,
        source: &Bound<'_, PyAny>,
        response: &Bound<'_, PyAny>,
        provider: &Bound<'_, PyAny>,
        model_name: &Bound<'_, PyAny>,
        prompt_price_per_million: Option<&Bound<'_, PyAny>>,
        completion_price_per_million: Option<&Bound<'_, PyAny>>,
        cached_prompt_price_per_million: Option<&Bound<'_, PyAny>>,
        cache_creation_price_per_million: Option<&Bound<'_, PyAny>>,
        cache_read_price_per_million: Option<&Bound<'_, PyAny>>,
        batch: bool,
    ) -> PyResult<f64> {
        let cost = crate::pricing::add_response_cost(
            slf.get().target(),
            source,
            response,
            provider,
            model_name,
            [
                prompt_price_per_million,
                completion_price_per_million,
                cached_prompt_price_per_million,
                cache_creation_price_per_million,
                cache_read_price_per_million,
            ],
            batch,
        )?;
        crate::budget::after_cost(slf.py(), slf.as_any(), &slf.get().core, None)?;
        Ok(cost)
    }

    /// The extractor registered for `provider`, if any.
    fn _cost_extractor(&self, py: Python<'_>, provider: &str) -> Option<Py<PyAny>> {
        self.extractors
            .get()
            .get(py, &normalize_provider(provider)?)
    }

    /// The garbage collector's view: the run's extractor registry (which visits, and on
    /// clearing drops, the extractors themselves).
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.extractors)
    }

    /// `{"cum_state": {...}, "unique_scenario_ids": [...]}`: the run's running totals.
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let state = py.detach(|| self.core.state());
        let cum = PyDict::new(py);
        for (k, v) in state.cum_state {
            cum.set_item(k, v)?;
        }
        let out = PyDict::new(py);
        out.set_item("cum_state", cum)?;
        out.set_item("unique_scenario_ids", state.unique_scenario_ids)?;
        Ok(out)
    }

    /// Restores running totals from `state_dict()` output and drops every pending step.
    /// Non-finite totals (openpipe-art saves `Infinity` and `NaN` in state.json and resumes
    /// them) are kept as they are, with one `RuntimeWarning` naming their keys.
    fn load_state_dict(&self, py: Python<'_>, state: &Bound<'_, PyAny>) -> PyResult<()> {
        let state = parse_state(state)?;
        let non_finite = py.detach(|| self.core.load_state(state)).map_err(to_py)?;
        if !non_finite.is_empty() {
            let msg = art_metrics_core::notices::non_finite_totals("the loaded state", &non_finite);
            crate::notices::warn_runtime(py, &msg)?;
        }
        Ok(())
    }

    /// Number of leaves pending in this builder's buffer scope.
    fn _pending_len(&self) -> usize {
        self.core.pending_len()
    }

    /// True when `other` records into the same run as this builder.
    fn _shares_run_with(&self, other: PyRef<'_, BuilderCore>) -> bool {
        self.core.shares_run_with(&other.core)
    }
}

/// `str()` of every element of an iterable of scenario ids (a bare str is refused).
fn scenario_id_list(ids: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if ids.is_instance_of::<PyString>() {
        return Err(CoreError::InvalidType(
            "scenario_ids must be a list of ids, not a single str".into(),
        )
        .to_py());
    }
    let iter = ids
        .try_iter()
        .map_err(|_| {
            CoreError::InvalidType(format!(
                "scenario_ids must be an iterable of ids, got {}",
                type_name(ids)
            ))
        })
        .map_err(to_py)?;
    iter.map(|id| {
        let id = id?.str()?;
        Ok(unicode_str(&id, "scenario id")?.to_owned())
    })
    .collect()
}

fn parse_state(state: &Bound<'_, PyAny>) -> PyResult<TotalsState> {
    let state = state
        .cast::<PyMapping>()
        .map_err(|_| {
            CoreError::InvalidType(format!(
                "state must be a dict like state_dict() returns, got {}",
                type_name(state)
            ))
        })
        .map_err(to_py)?;
    let mut out = TotalsState::default();
    if let Some(cum) = mapping_get(state, "cum_state")? {
        let cum = cum
            .cast::<PyMapping>()
            .map_err(|_| {
                CoreError::InvalidType(format!(
                    "state['cum_state'] must be a dict of str to float, got {}",
                    type_name(&cum)
                ))
            })
            .map_err(to_py)?;
        for item in cum.items()?.iter() {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            let k = str_arg(&k, "state['cum_state'] key")?.to_owned();
            let v = number_arg(&v, &k)?;
            out.cum_state.push((k, v));
        }
    }
    if let Some(ids) = mapping_get(state, "unique_scenario_ids")? {
        out.unique_scenario_ids = scenario_id_list(&ids)
            .map_err(|e| {
                let msg = format!("state['unique_scenario_ids']: {}", e.value(ids.py()));
                if e.is_instance_of::<PyValueError>(ids.py()) {
                    CoreError::value(msg) // a lone surrogate in an id
                } else {
                    CoreError::InvalidType(msg)
                }
            })
            .map_err(to_py)?;
    }
    Ok(out)
}

fn mapping_get<'py>(m: &Bound<'py, PyMapping>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    if m.contains(key)? {
        Ok(Some(m.get_item(key)?))
    } else {
        Ok(None)
    }
}

/// What goes to W&B for a row, by the rules of `art_version`: `(keys sent to run.log, of
/// those the keys that get their own define_metric against training_step)`.
#[pyfunction]
pub fn _wandb_row_keys(
    art_version: &str,
    keys: Vec<String>,
    caller_keys: Vec<String>,
) -> PyResult<(Vec<String>, Vec<String>)> {
    let d = ArtVersion::parse(art_version).map_err(to_py)?.dialect();
    let caller: std::collections::HashSet<&str> = caller_keys.iter().map(String::as_str).collect();
    let is_caller = |k: &str| caller.contains(k);
    let sent: Vec<String> = keys
        .into_iter()
        .filter(|k| d.wandb_sends(k, is_caller))
        .collect();
    let defined = sent
        .iter()
        .filter(|k| d.wandb_defines(k, is_caller))
        .cloned()
        .collect();
    Ok((sent, defined))
}

type WandbSetup = (Vec<&'static str>, Vec<(&'static str, &'static str)>, bool);

/// The W&B run setup of `art_version`: the axes (`define_metric(name)`, defined from the
/// start), the `(pattern, step_metric)` globs, in order, and whether the `wandb` package is
/// required (else W&B is skipped without it).
#[pyfunction]
pub fn _wandb_setup(art_version: &str) -> PyResult<WandbSetup> {
    let w = ArtVersion::parse(art_version)
        .map_err(to_py)?
        .dialect()
        .wandb;
    Ok((w.axes.to_vec(), w.globs.to_vec(), w.requires_package))
}
