//! Crash scenarios of the run directory, each cut at a chosen point of a log's writes.

use std::fs;

use super::*;

fn changes(total: f64, ids: &[&str]) -> TotalsChanges {
    TotalsChanges {
        cum_state: vec![("costs/cum/all".into(), total)],
        new_scenario_ids: ids.iter().map(|s| s.to_string()).collect(),
        ids_from: 0,
    }
}

fn total(state: &TotalsState) -> Option<f64> {
    state
        .cum_state
        .iter()
        .find(|(k, _)| k == "costs/cum/all")
        .map(|(_, v)| *v)
}

fn log(run: &RunDir, i: usize) {
    let line = format!("{{\"costs/all\": 1.0, \"i\": {i}}}\n");
    let id = format!("s{i}");
    run.writer()
        .append(&line, changes(i as f64 + 1.0, &[id.as_str()]), false)
        .unwrap();
}

#[test]
fn restart_restores_totals_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path().join("run"));
    assert_eq!(run.open().unwrap(), TotalsState::default());
    for i in 0..3 {
        log(&run, i);
    }
    let again = RunDir::new(dir.path().join("run")).open().unwrap();
    assert_eq!(total(&again), Some(3.0));
    assert_eq!(again.unique_scenario_ids, ["s0", "s1", "s2"]);
    // Opening folded the journal into state.json in the reference's format.
    let text = fs::read_to_string(dir.path().join("run/state.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v[BUILDER_STATE_KEY]["cum_state"]["costs/cum/all"], 3.0);
    assert_eq!(
        fs::metadata(dir.path().join("run/state.journal"))
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn a_torn_row_is_dropped_with_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    log(&run, 0);
    log(&run, 1);
    // Kill in the middle of row 2: its journal entry is complete, the row is not.
    let start = fs::metadata(path.join(HISTORY_FILE)).unwrap().len();
    let entry = JournalEntry::new((start, start + 30), changes(3.0, &["s2"]), false);
    fs::OpenOptions::new()
        .append(true)
        .open(path.join(JOURNAL_FILE))
        .unwrap()
        .write_all(entry.to_line().as_bytes())
        .unwrap();
    fs::OpenOptions::new()
        .append(true)
        .open(path.join(HISTORY_FILE))
        .unwrap()
        .write_all(b"{\"costs/all\": 1.")
        .unwrap();
    let state = RunDir::new(&path).open().unwrap();
    assert_eq!(total(&state), Some(2.0));
    assert_eq!(state.unique_scenario_ids, ["s0", "s1"]);
    let history = fs::read_to_string(path.join(HISTORY_FILE)).unwrap();
    assert_eq!(history.lines().count(), 2);
    assert!(history.ends_with('\n'));
}

#[test]
fn a_torn_journal_line_means_the_row_never_started() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    log(&run, 0);
    fs::OpenOptions::new()
        .append(true)
        .open(path.join(JOURNAL_FILE))
        .unwrap()
        .write_all(b"{\"row\":[40,")
        .unwrap();
    let state = RunDir::new(&path).open().unwrap();
    assert_eq!(total(&state), Some(1.0));
    // And the run goes on normally.
    let run = RunDir::new(&path);
    run.open().unwrap();
    log(&run, 1);
    assert_eq!(total(&RunDir::new(&path).open().unwrap()), Some(2.0));
}

#[test]
fn entries_already_folded_are_not_applied_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    log(&run, 0);
    log(&run, 1);
    let journal = fs::read(path.join(JOURNAL_FILE)).unwrap();
    run.compact().unwrap();
    // A kill after state.json was replaced but before the journal was emptied.
    fs::write(path.join(JOURNAL_FILE), journal).unwrap();
    let mut state = RunDir::new(&path).open().unwrap();
    assert_eq!(total(&state), Some(2.0));
    state.unique_scenario_ids.sort();
    assert_eq!(state.unique_scenario_ids, ["s0", "s1"]);
}

#[test]
fn rows_without_changes_need_no_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    run.writer()
        .append("{\"loss/x\": 1.0}\n", TotalsChanges::default(), false)
        .unwrap();
    assert!(!path.join(JOURNAL_FILE).exists());
    assert_eq!(RunDir::new(&path).open().unwrap(), TotalsState::default());
}

#[test]
fn state_methods_keep_user_keys_and_snapshots_reset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    log(&run, 0);
    let merged = run.merge_state(r#"{"user": {"a": 1}}"#, true).unwrap();
    assert!(merged.contains("\"user\""), "{merged}");
    let merged = run.merge_state(r#"{"user": {"b": 2}}"#, false).unwrap();
    let v: Value = serde_json::from_str(&merged).unwrap();
    assert_eq!(v["user"]["a"], 1);
    assert_eq!(v["user"]["b"], 2);
    assert_eq!(v[BUILDER_STATE_KEY]["cum_state"]["costs/cum/all"], 1.0);

    run.overwrite_state(r#"{"only": true}"#, false).unwrap();
    assert_eq!(RunDir::new(&path).open().unwrap(), TotalsState::default());
    let text = run.read_state().unwrap().unwrap();
    assert!(
        text.contains("\"only\"") && !text.contains(BUILDER_STATE_KEY),
        "{text}"
    );

    run.overwrite_state("{}", true).unwrap();
    let mut w = run.writer();
    assert!(w.snapshot_pending());
    w.append("{}\n", changes(7.0, &["z"]), true).unwrap();
    drop(w);
    let state = RunDir::new(&path).open().unwrap();
    assert_eq!(total(&state), Some(7.0));
    assert_eq!(state.unique_scenario_ids, ["z"]);
    assert!(run.overwrite_state("[1]", false).is_err());
}

#[test]
fn reference_state_json_is_read_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    fs::create_dir_all(&path).unwrap();
    fs::write(
        path.join(STATE_FILE),
        r#"{"_metrics_builder_state": {"cum_state": {"costs/cum/all": 0.5}, "unique_scenario_ids": ["a", 3]}}"#,
    )
    .unwrap();
    let state = RunDir::new(&path).open().unwrap();
    assert_eq!(total(&state), Some(0.5));
    assert_eq!(state.unique_scenario_ids, ["a", "3"]);
    fs::write(path.join(STATE_FILE), "{\"_metrics_builder_state\": {\"cum").unwrap();
    let e = RunDir::new(&path).open().unwrap_err();
    assert!(matches!(e, CoreError::Corrupt(_)), "{e}");
}

#[test]
fn many_logs_compact_and_stay_correct() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    let ids: Vec<String> = (0..200)
        .map(|i| format!("a-long-scenario-identifier-{i}"))
        .collect();
    for i in 0..400 {
        let mut c = changes(i as f64 + 1.0, &[]);
        c.new_scenario_ids = ids.iter().map(|s| format!("{s}-{i}")).collect();
        run.writer().append("{}\n", c, false).unwrap();
    }
    // The journal was folded at least once on the way.
    assert!(fs::metadata(path.join(JOURNAL_FILE)).unwrap().len() < 8 << 20);
    let state = RunDir::new(&path).open().unwrap();
    assert_eq!(total(&state), Some(400.0));
    assert_eq!(state.unique_scenario_ids.len(), 80_000);
}

use std::io::Write;
