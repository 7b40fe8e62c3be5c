//! One `Model.log` call end to end: route values into the split's builder, flush it, build
//! the row, and append it (with its journal entry) to the run directory.

use std::collections::HashSet;

use super::batch::{BatchSummary, Number, Ordered, set};
use super::efficiency::{EfficiencyInputs, efficiency_metrics};
use super::json;
use super::routing::{self, Route};
use super::rundir::RunDir;
use crate::error::CoreResult;
use crate::metrics::builder::Builder;
use crate::metrics::dialect::{DefaultData, STEP_METRIC};
use crate::metrics::totals::TotalsChanges;

/// Everything one log call brings.
#[derive(Debug, Default)]
pub struct LogRequest<'a> {
    pub split: &'a str,
    pub step: i64,
    /// The aggregated trajectory groups; `None` for a metrics-only log.
    pub batch: Option<BatchSummary>,
    /// Automatic backend metrics (`time/step_wall_s`, `costs/gpu`), already decided.
    pub automatic: Vec<(String, f64)>,
    /// The `metrics=` argument, in its order.
    pub metrics: Option<Vec<(String, f64)>>,
    pub wall_clock_sec: f64,
    pub recorded_at: &'a str,
    /// `Some`: add the `efficiency/` metrics to a train row.
    pub efficiency: Option<EfficiencyInputs>,
    /// Leave the journal's fold into state.json, when due, to the caller
    /// ([`Logged::fold_due`], then [`RunDir::fold_if_due`]).
    pub defer_fold: bool,
}

/// A logged row: prefixed keys in row order, NaN values included (history.jsonl leaves
/// them out; reporters may want them), with `training_step` (and, in 0.5.18,
/// `time/wall_clock_sec`).
pub type Row = Vec<(String, Number)>;

/// What one log call wrote: the row, and which of its keys are the caller's own (trajectory,
/// group and `metrics=` keys, qualified; collected where the dialect's W&B filter needs them).
#[derive(Debug)]
pub struct Logged {
    pub row: Row,
    pub caller_keys: Vec<String>,
    /// With [`LogRequest::defer_fold`]: the journal has outgrown state.json, fold it.
    pub fold_due: bool,
}

/// Logs one row. Returns `None` when there was nothing to log (no row, no state change).
///
/// Every value is checked before the builder is touched, so a refused log (a legacy
/// `costs_*` key, a NaN cost, ...) leaves no pending values behind.
pub fn log_step(
    root: &Builder,
    run: &RunDir,
    mut req: LogRequest<'_>,
) -> CoreResult<Option<Logged>> {
    if req.batch.is_none() && req.metrics.is_none() {
        return Ok(None);
    }
    let dialect = root.dialect();
    let scope = routing::split_scope(req.split);
    let builder = root
        .for_cost_context(scope, Some(scope))?
        .unwrap_or_else(|| root.clone());

    let metrics = req.metrics.unwrap_or_default();
    let provided: HashSet<&str> = metrics.iter().map(|(k, _)| k.as_str()).collect();
    let mut plain: Vec<(&str, f64)> = Vec::new();
    let mut metric_adds: Vec<(&str, f64)> = Vec::new();
    for (key, value) in &metrics {
        match routing::route(key, dialect)? {
            Route::Builder => metric_adds.push((key, *value)),
            Route::Plain => plain.push((key, *value)),
        }
    }
    for (key, _) in &req.automatic {
        routing::route(key, dialect)?;
    }

    // Builder values in the reference's order: automatic, data counts, groups and
    // trajectories, then `metrics=`.
    let mut adds: Vec<(&str, f64)> = req
        .automatic
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    let mut averages: Ordered<Number> = Ordered::default();
    // Moved, not copied: a batch brings hundreds of new ids.
    let scenario_ids = req
        .batch
        .as_mut()
        .map(|b| std::mem::take(&mut b.scenario_ids))
        .unwrap_or_default();
    let mut caller_keys: Vec<&str> = Vec::new();
    if let Some(batch) = &req.batch {
        // The caller's own value of a default count wins (0.5.23: also `{split}/key`).
        let provided_count = |k: &str| {
            provided.contains(k)
                || (dialect.default_data == DefaultData::TrainToBuilderEvalToRow
                    && provided.contains(format!("{}/{k}", req.split).as_str()))
        };
        adds.extend(
            batch
                .data_metrics
                .iter()
                .filter(|(k, _)| !provided_count(k))
                .copied(),
        );
        adds.extend(batch.builder_adds.iter().map(|(k, v)| (k.as_str(), *v)));
        for (i, (k, v)) in batch.averages.iter().enumerate() {
            if i == batch.row_data_at {
                for (k, v) in batch.row_data.iter().filter(|(k, _)| !provided_count(k)) {
                    set(
                        &mut averages,
                        &format!("{}/{k}", req.split),
                        Number::Float(*v),
                    );
                }
            }
            set(&mut averages, k, *v);
        }
        caller_keys.extend(batch.caller_keys.iter().map(String::as_str));
    }
    adds.extend(metric_adds);
    if dialect.wandb.filter.is_some() {
        caller_keys.extend(plain.iter().map(|(k, _)| *k));
    }
    for (k, v) in plain {
        set(&mut averages, k, Number::Float(v));
    }

    let mut writer = run.writer()?;
    let efficiency = req.efficiency.filter(|_| req.split == "train");
    let (flushed, derived, undo) = builder.flush_with_then(&adds, scenario_ids, |m, t| {
        efficiency.map_or_else(Vec::new, |inputs| {
            efficiency_metrics(m, &inputs, dialect, t)
        })
    })?;
    for (k, v) in flushed.0 {
        set(&mut averages, &k, Number::Float(v));
    }
    if averages.is_empty() {
        return Ok(None);
    }

    let mut row: Ordered<Number> = Ordered::default();
    for (k, v) in &averages {
        set(&mut row, &dialect.row_key(req.split, k), *v);
    }
    for (k, v) in derived.0 {
        set(&mut row, &k, Number::Float(v));
    }
    set(&mut row, STEP_METRIC, Number::Int(req.step));
    if let Some(key) = dialect.wall_clock_key {
        set(&mut row, key, Number::Float(req.wall_clock_sec));
    }
    let row: Row = row.into_iter().collect();
    let mut qualified: Ordered<()> = Ordered::default();
    for k in caller_keys {
        set(&mut qualified, &dialect.row_key(req.split, k), ());
    }
    let line = history_line(&row, req.step, req.recorded_at);

    // After `load_state_dict` (or `overwrite_state`) the totals are saved whole.
    let (changes, reset) = if root.take_replaced() || writer.snapshot_pending() {
        root.take_changes();
        let state = root.state();
        let changes = TotalsChanges {
            cum_state: state.cum_state,
            new_scenario_ids: state.unique_scenario_ids,
            // A snapshot holds every id: if its save fails, all of them are unsaved again.
            ids_from: 0,
            compensation: state.compensation,
        };
        (changes, true)
    } else {
        (root.take_changes(), false)
    };
    // What a failed append gives back to the totals: which totals changed, and where the new
    // ids start (not the ids themselves: a batch brings hundreds).
    let taken = TotalsChanges {
        cum_state: changes.cum_state.clone(),
        ids_from: changes.ids_from,
        ..TotalsChanges::default()
    };
    let appended = if req.defer_fold {
        writer.append_unfolded(&line, changes, reset)
    } else {
        writer.append(&line, changes, reset).map(|()| false)
    };
    let fold_due = match appended {
        Ok(due) => due,
        Err(e) => {
            // Nothing was saved (append undoes its partial writes), so nothing happened: the
            // builder gets back the values pending before this call, the totals lose this row's
            // additions, and the changes it took are saved by the next row. Retrying the call,
            // or logging the next step, then counts every value exactly once.
            root.restore_changes(taken);
            builder.undo_flush(undo)?;
            return Err(e);
        }
    };
    Ok(Some(Logged {
        row,
        caller_keys: qualified.into_keys().collect(),
        fold_due,
    }))
}

/// The history.jsonl line of a row, as the reference's `json.dumps` writes it: NaN values
/// left out, then `step` and `recorded_at`.
pub fn history_line(row: &[(String, Number)], step: i64, recorded_at: &str) -> String {
    let mut out = String::with_capacity(64 + row.len() * 48);
    out.push('{');
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !first {
            out.push_str(", ");
        }
        first = false;
    };
    for (k, v) in row {
        if let Number::Float(f) = v
            && f.is_nan()
        {
            continue;
        }
        sep(&mut out);
        json::write_str(&mut out, k);
        out.push_str(": ");
        match v {
            Number::Float(f) => json::write_float(&mut out, *f),
            Number::Int(i) => out.push_str(&i.to_string()),
        }
    }
    sep(&mut out);
    out.push_str("\"step\": ");
    out.push_str(&step.to_string());
    out.push_str(", \"recorded_at\": ");
    json::write_str(&mut out, recorded_at);
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::BatchAggregator;

    fn request(split: &str, metrics: Option<Vec<(String, f64)>>) -> LogRequest<'_> {
        LogRequest {
            split,
            step: 3,
            metrics,
            recorded_at: "2026-01-01T00:00:00",
            ..LogRequest::default()
        }
    }

    #[test]
    fn line_format_matches_json_dumps() {
        let row = vec![
            ("train/reward".to_string(), Number::Float(0.5)),
            ("train/reward_std_dev".to_string(), Number::Int(0)),
            ("loss/kl".to_string(), Number::Float(f64::NAN)),
            ("x".to_string(), Number::Float(f64::INFINITY)),
        ];
        assert_eq!(
            history_line(&row, 2, "t"),
            "{\"train/reward\": 0.5, \"train/reward_std_dev\": 0, \"x\": Infinity, \"step\": 2, \"recorded_at\": \"t\"}\n"
        );
    }

    #[test]
    fn metrics_only_log_routes_prefixes_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let root = Builder::new("train").unwrap();
        let metrics = vec![
            ("loss/kl".to_string(), f64::NAN),
            ("custom".to_string(), 1.5),
            ("costs/train/x".to_string(), 0.25),
        ];
        let row = log_step(&root, &run, request("train", Some(metrics)))
            .unwrap()
            .unwrap()
            .row;
        let keys: Vec<&str> = row.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(&keys[..2], ["loss/kl", "train/custom"]);
        assert!(keys.contains(&"costs/cum/all"));
        assert_eq!(
            keys[keys.len() - 2..],
            ["training_step", "time/wall_clock_sec"]
        );
        let text = std::fs::read_to_string(dir.path().join("history.jsonl")).unwrap();
        assert!(!text.contains("loss/kl") && text.contains("\"train/custom\": 1.5"));
        drop(run);
        let (state, _) = RunDir::new(dir.path()).open().unwrap();
        assert!(
            state
                .cum_state
                .contains(&("costs/cum/all".to_string(), 0.25))
        );
    }

    #[test]
    fn nothing_to_log() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let root = Builder::new("train").unwrap();
        assert!(
            log_step(&root, &run, request("train", None))
                .unwrap()
                .is_none()
        );
        assert!(
            log_step(&root, &run, request("train", Some(vec![])))
                .unwrap()
                .is_none()
        );
        assert!(!dir.path().join("history.jsonl").exists());
    }

    #[test]
    fn a_refused_log_leaves_nothing_pending() {
        // A cost pending before the call, then a log whose batch and metrics carry builder
        // values ahead of a refused key: none of them may reach the builder or the file.
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let root = Builder::new("train").unwrap();
        root.add_cost("train/judge", 0.25).unwrap();
        let mut agg = BatchAggregator::new();
        agg.begin_group([], Some("s".into()), 1, 0).unwrap();
        agg.add_trajectory(1.0, [("costs/train/traj", 0.5)], None)
            .unwrap();
        agg.end_group();
        let metrics = vec![
            ("costs/train/x".to_string(), 2.0),
            ("costs_prefill".to_string(), 1.0),
        ];
        let mut req = request("train", Some(metrics));
        req.batch = Some(agg.finish("train"));
        assert!(log_step(&root, &run, req).is_err());
        assert_eq!(root.pending_len(), 1);
        let pending = root.flush();
        assert_eq!(pending.get("costs/train/judge"), Some(0.25));
        assert_eq!(pending.get("costs/all"), Some(0.25));
        assert!(!dir.path().join("history.jsonl").exists());
    }

    #[test]
    fn custom_splits_prefix_everything_and_skip_data_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let root = Builder::new("train").unwrap();
        let mut agg = BatchAggregator::new();
        agg.begin_group([], Some("s".into()), 1, 0).unwrap();
        agg.add_trajectory(1.0, [("costs/holdout/judge", 0.5)], None)
            .unwrap();
        agg.end_group();
        let mut req = request("holdout", None);
        req.batch = Some(agg.finish("holdout"));
        let row = log_step(&root, &run, req).unwrap().unwrap().row;
        let keys: Vec<&str> = row.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&"holdout/costs/cum/all"), "{keys:?}");
        assert!(!keys.iter().any(|k| k.contains("data/")), "{keys:?}");
    }

    #[test]
    fn a_0523_val_row() {
        use crate::metrics::ArtVersion;
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let root = Builder::with_version("train", ArtVersion::V0_5_23).unwrap();
        let mut agg = BatchAggregator::with_dialect(root.dialect());
        agg.begin_group([("difficulty", 0.5)], Some("s".into()), 2, 0)
            .unwrap();
        agg.add_trajectory(1.0, [("correct", 1.0), ("costs/eval/judge", 0.5)], None)
            .unwrap();
        agg.add_trajectory(0.0, [("correct", 0.0)], None).unwrap();
        agg.end_group();
        let metrics = vec![
            ("val/data/step_num_trajectories".to_string(), 7.0),
            ("entropy".to_string(), 1.0),
            ("loss/x".to_string(), 2.0),
        ];
        let mut req = request("val", Some(metrics));
        req.batch = Some(agg.finish("val"));
        let logged = log_step(&root, &run, req).unwrap().unwrap();
        let keys: Vec<&str> = logged.row.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "val/correct",
                "val/data/step_num_scenarios",
                "val/data/step_num_groups_submitted",
                "val/group/difficulty",
                "val/reward",
                "val/reward_std_dev",
                "val/exception_rate",
                "val/data/step_num_trajectories",
                "val/entropy",
                "loss/x",
                "costs/eval/judge",
                "costs/eval",
                "costs/all",
                "costs/cum/eval/judge",
                "costs/cum/eval",
                "costs/cum/all",
                "training_step",
            ]
        );
        assert_eq!(
            logged.caller_keys,
            [
                "val/group/difficulty",
                "val/correct",
                "val/data/step_num_trajectories",
                "val/entropy",
                "loss/x"
            ]
        );
        // val counts are not totalled, and val scenario ids are not counted.
        let state = root.state();
        assert!(state.cum_state.iter().all(|(k, _)| !k.starts_with("data/")));
        assert!(state.unique_scenario_ids.is_empty());
    }
}
