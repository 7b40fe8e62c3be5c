//! `StepTable`: a run's rows folded per step (`summary`, `report`), read from history.jsonl
//! with the GIL released or fed row dicts. Conversions only; the rules are in
//! `history::steps`, `history::series` and `history::summary_text`.

use crate::errors::to_py;
use std::path::PathBuf;

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::convert::history_value;
use art_metrics_core::history::history_read::{Problem, read_history, read_run};
use art_metrics_core::history::series::Series;
use art_metrics_core::history::steps::{
    self, RowValue, StepSummary, StepTable as CoreTable, StepView,
};
use art_metrics_core::history::summary_text;

#[pyclass(frozen, module = "art_metrics._core")]
pub struct StepTable {
    table: Mutex<CoreTable>,
    problems: Vec<Problem>,
}

type SummaryTuple<'py> = (
    i64,
    Option<f64>,
    Option<f64>,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Bound<'py, PyDict>,
    Bound<'py, PyDict>,
    Bound<'py, PyDict>,
);

fn dict<'py, K: AsRef<str>>(py: Python<'py>, pairs: &[(K, f64)]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in pairs {
        d.set_item(k.as_ref(), v)?;
    }
    Ok(d)
}

/// `StepSummary`'s numbers: step, rewards, step cost, total, throughputs.
type Fields = (
    i64,
    Option<f64>,
    Option<f64>,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

/// A step's summary copied out of the table: Python objects are made after the lock is
/// released (their allocation can run the garbage collector, and with it any Python code).
struct Owned {
    fields: Fields,
    maps: [Vec<(String, f64)>; 3],
}

fn owned(s: &StepSummary<'_>) -> Owned {
    let copy = |m: &[(&str, f64)]| m.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    Owned {
        fields: (
            s.step,
            s.train_reward,
            s.val_reward,
            s.step_cost,
            s.total_cost,
            s.actor_tok_per_s,
            s.trainer_tok_per_s,
        ),
        maps: [copy(&s.costs), copy(&s.losses), copy(&s.exception_rates)],
    }
}

fn summary_tuple(py: Python<'_>, s: Owned) -> PyResult<SummaryTuple<'_>> {
    let (step, train, val, cost, total, actor, trainer) = s.fields;
    let [costs, losses, rates] = &s.maps;
    Ok((
        step,
        train,
        val,
        cost,
        total,
        actor,
        trainer,
        dict(py, costs)?,
        dict(py, losses)?,
        dict(py, rates)?,
    ))
}

/// A row's `(key, value)` pairs in order; keys that are not str are left out.
fn row_pairs(row: &Bound<'_, PyAny>) -> PyResult<Vec<(String, RowValue)>> {
    let mut pairs = Vec::new();
    let mut push = |k: Bound<'_, PyAny>, v: Bound<'_, PyAny>| -> PyResult<()> {
        if let Ok(key) = k.cast::<PyString>() {
            pairs.push((key.to_string_lossy().into_owned(), history_value(&v)?));
        }
        Ok(())
    };
    if let Ok(d) = row.cast::<PyDict>() {
        for (k, v) in d.iter() {
            push(k, v)?;
        }
    } else {
        for item in row.call_method0("items")?.try_iter()? {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
            push(k, v)?;
        }
    }
    Ok(pairs)
}

/// `(x, y, steps, points)`: a series as Python receives it.
type SeriesData = (Vec<f64>, Vec<f64>, Vec<i64>, usize);

fn series_tuple(s: Series) -> SeriesData {
    (s.x, s.y, s.steps, s.points)
}

fn clamp(range: (usize, usize), len: usize) -> std::ops::Range<usize> {
    let stop = range.1.min(len);
    range.0.min(stop)..stop
}

impl StepTable {
    /// A table filled by `read` with the GIL released.
    fn filled(
        py: Python<'_>,
        read: impl FnOnce(&mut CoreTable) -> art_metrics_core::error::CoreResult<Vec<Problem>> + Send,
    ) -> PyResult<Self> {
        let (table, problems) = py
            .detach(|| {
                let mut table = CoreTable::new();
                read(&mut table).map(|problems| (table, problems))
            })
            .map_err(to_py)?;
        Ok(StepTable {
            table: Mutex::new(table),
            problems,
        })
    }

    fn with_view<T>(&self, f: impl FnOnce(&StepView<'_>) -> T) -> T {
        let mut table = self.table.lock();
        f(&table.view())
    }
}

#[pymethods]
impl StepTable {
    /// An empty table, for `add_row`.
    #[new]
    fn new() -> Self {
        StepTable {
            table: Mutex::new(CoreTable::new()),
            problems: Vec::new(),
        }
    }

    /// Reads the run directory `run_dir` (the GIL released): its history.jsonl streamed, its
    /// cost totals from its folded state (the core's `read_run`). A non-regular
    /// history.jsonl is an `OSError`; bad lines are in `problems()`.
    #[staticmethod]
    fn read_run(py: Python<'_>, run_dir: PathBuf) -> PyResult<Self> {
        Self::filled(py, |table| read_run(&run_dir, table))
    }

    /// Reads the history file at `path` (streamed, the GIL released). A non-regular file is
    /// an `OSError`; bad lines are in `problems()`.
    #[staticmethod]
    fn read(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        Self::filled(py, |table| read_history(&path, table))
    }

    /// Adds one row (a mapping of str keys); returns its step, or None.
    fn add_row(&self, row: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
        let pairs = row_pairs(row)?;
        Ok(self.table.lock().add_row(&pairs))
    }

    /// `(line, what)` for each line that gave no row.
    fn problems(&self) -> Vec<(u64, String)> {
        self.problems
            .iter()
            .map(|p| (p.line, p.what.clone()))
            .collect()
    }

    /// The rows read, with or without a step.
    #[getter]
    fn rows(&self) -> u64 {
        self.table.lock().rows()
    }

    fn __len__(&self) -> usize {
        // A method path is not general enough over the view's lifetime.
        #[allow(clippy::redundant_closure_for_method_calls)]
        self.with_view(|v| v.len())
    }

    /// The steps at positions `start..stop` (step order) as `StepSummary` fields.
    fn summaries<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        stop: usize,
    ) -> PyResult<Vec<SummaryTuple<'py>>> {
        let steps: Vec<Owned> = self.with_view(|v| {
            clamp((start, stop), v.len())
                .map(|pos| owned(&v.summary(pos)))
                .collect()
        });
        steps.into_iter().map(|s| summary_tuple(py, s)).collect()
    }

    /// The summary of `step`, or None.
    fn summary_of<'py>(&self, py: Python<'py>, step: i64) -> PyResult<Option<SummaryTuple<'py>>> {
        let found = self.with_view(|v| v.position(step).map(|pos| owned(&v.summary(pos))));
        found.map(|s| summary_tuple(py, s)).transpose()
    }

    fn sources(&self) -> Vec<String> {
        self.with_view(|v| v.sources().into_iter().map(String::from).collect())
    }

    fn losses(&self) -> Vec<String> {
        self.with_view(|v| v.losses().into_iter().map(String::from).collect())
    }

    fn splits(&self) -> Vec<String> {
        self.with_view(|v| v.splits().into_iter().map(String::from).collect())
    }

    fn last_keys(&self) -> Vec<String> {
        self.with_view(|v| v.last_keys().into_iter().map(String::from).collect())
    }

    fn time_keys(&self) -> Vec<String> {
        self.with_view(|v| v.time_keys().into_iter().map(String::from).collect())
    }

    /// The run's total per cost context: the last `costs/cum/<context>` written.
    fn totals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let totals: Vec<(String, f64)> = self.with_view(|v| {
            v.totals()
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect()
        });
        let d = PyDict::new(py);
        for (k, v) in totals {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// `(source, total)` per cost source, in the order they first appeared.
    fn source_totals(&self) -> Vec<(String, f64)> {
        self.with_view(|v| {
            v.source_totals()
                .into_iter()
                .map(|(k, t)| (k.to_owned(), t))
                .collect()
        })
    }

    /// Table lines for positions `start..stop`: the step, then the base columns, `sources`,
    /// `losses` and `splits` (only those `columns` picks, by index after the step, when
    /// given), each cell in its format letter (`formats`, step included) and width.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (start, stop, sources, losses, splits, formats, widths, columns=None))]
    fn table_text(
        &self,
        py: Python<'_>,
        start: usize,
        stop: usize,
        sources: Vec<String>,
        losses: Vec<String>,
        splits: Vec<String>,
        formats: &str,
        widths: Vec<usize>,
        columns: Option<Vec<usize>>,
    ) -> PyResult<String> {
        let formats = formats.as_bytes();
        let text = py
            .detach(|| {
                self.with_view(|v| {
                    let layout = layout(v, &sources, &losses, &splits);
                    let mut out = String::new();
                    let range = clamp((start, stop), v.len());
                    v.write_table(
                        &mut out,
                        &layout,
                        range,
                        formats,
                        &widths,
                        columns.as_deref(),
                    )
                    .map(|()| out)
                })
            })
            .map_err(to_py)?;
        Ok(text)
    }

    /// CSV rows (full precision) for positions `start..stop`, columns as `table_text`.
    fn csv_text(
        &self,
        py: Python<'_>,
        start: usize,
        stop: usize,
        sources: Vec<String>,
        losses: Vec<String>,
        splits: Vec<String>,
    ) -> String {
        py.detach(|| {
            self.with_view(|v| {
                let layout = layout(v, &sources, &losses, &splits);
                let mut out = String::new();
                v.write_csv(&mut out, &layout, clamp((start, stop), v.len()));
                out
            })
        })
    }

    /// The steps at positions `start..stop` as `summary --json` writes them.
    fn json_text(&self, py: Python<'_>, start: usize, stop: usize) -> String {
        py.detach(|| {
            self.with_view(|v| {
                let mut out = String::new();
                v.write_json(&mut out, clamp((start, stop), v.len()));
                out
            })
        })
    }

    /// `(x, y, [], points)`: the step's last value of `key`, at most `max_points` of them.
    fn last_series(&self, key: &str, max_points: usize) -> SeriesData {
        series_tuple(self.with_view(|v| v.last_series(key, max_points.max(4))))
    }

    /// `(x, y, [], points)`: `key` summed per step, at most `max_points` of them.
    fn summed_series(&self, key: &str, max_points: usize) -> SeriesData {
        series_tuple(self.with_view(|v| v.summed_series(key, max_points.max(4))))
    }

    /// `(cumulative cost, reward, step, points)` of reward `key`, or None.
    fn reward_cost_series(&self, key: &str, max_points: usize) -> Option<SeriesData> {
        self.with_view(|v| v.reward_cost_series(key, max_points.max(4)))
            .map(series_tuple)
    }

    /// `(steps, layers, points)`: cost per step of each of `sources`, None where absent.
    fn stacked_costs<'py>(
        &self,
        py: Python<'py>,
        sources: Vec<String>,
        max_points: usize,
    ) -> PyResult<(Vec<f64>, Bound<'py, PyList>, usize)> {
        let names: Vec<&str> = sources.iter().map(String::as_str).collect();
        let stacked = self.with_view(|v| v.stacked_costs(&names, max_points.max(4)));
        Ok((stacked.x, PyList::new(py, stacked.layers)?, stacked.points))
    }
}

fn layout<'a>(
    v: &StepView<'a>,
    sources: &[String],
    losses: &[String],
    splits: &[String],
) -> summary_text::Layout<'a> {
    fn names(n: &[String]) -> Vec<&str> {
        n.iter().map(String::as_str).collect()
    }
    v.layout(&names(sources), &names(losses), &names(splits))
}

/// One line of `summary`'s table: `step`, then `values` in their format letters.
#[pyfunction]
pub fn format_summary_line(
    step: i64,
    values: Vec<Option<f64>>,
    formats: &str,
    widths: Vec<usize>,
) -> PyResult<String> {
    let mut out = String::new();
    summary_text::write_line(&mut out, step, &values, formats.as_bytes(), &widths)
        .map_err(to_py)?;
    Ok(out)
}

/// A row's cost per source from its numbers (see `summary.cost_sources`).
#[pyfunction]
pub fn cost_sources(py: Python<'_>, values: Vec<(String, f64)>) -> PyResult<Bound<'_, PyDict>> {
    let pairs: Vec<(&str, f64)> = values.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    dict(py, &steps::cost_sources(&pairs))
}
