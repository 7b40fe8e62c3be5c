//! Crash, corruption and sharing scenarios of the run directory (issue #10's cases).

use std::fs;
use std::io::Write;

use super::*;

fn changes(total: f64, ids: &[&str]) -> TotalsChanges {
    TotalsChanges {
        cum_state: vec![("costs/cum/all".into(), total)],
        new_scenario_ids: ids.iter().map(std::string::ToString::to_string).collect(),
        ..TotalsChanges::default()
    }
}

fn total(state: &TotalsState) -> Option<f64> {
    state
        .cum_state
        .iter()
        .find(|(k, _)| k == "costs/cum/all")
        .map(|(_, v)| *v)
}

fn row(i: usize) -> String {
    format!("{{\"costs/all\": 1.0, \"i\": {i}}}\n")
}

/// Logs row `i`, whose running total is `i + 1`.
fn log(run: &RunDir, i: usize) {
    let id = format!("s{i}");
    run.writer()
        .unwrap()
        .append(&row(i), changes(i as f64 + 1.0, &[id.as_str()]), false)
        .unwrap();
}

/// A restart: every handle of this process dropped (the lock goes with them), a new one.
fn reopen(run: RunDir) -> (RunDir, TotalsState, Vec<String>) {
    let path = run.path().to_path_buf();
    drop(run);
    let run = RunDir::new(&path);
    let (state, _) = run.open().unwrap();
    let warnings = run.take_warnings();
    (run, state, warnings)
}

/// Appends the journal entry [`log`] writes before row `i` (its row starting at byte `at`
/// of history.jsonl), as a process killed before or while writing the row leaves it.
fn announce(path: &Path, i: usize, at: u64) {
    let prev: Vec<String> = (i > 0).then(|| format!("s{}", i - 1)).into_iter().collect();
    let id = format!("s{i}");
    let changes = changes(i as f64 + 1.0, &[id.as_str()]);
    let entry = JournalEntry::new(i as u64 + 1, &row(i), at, changes, false, prev);
    append_raw(&path.join(JOURNAL_FILE), entry.to_line().as_bytes());
}

fn append_raw(path: &Path, bytes: &[u8]) {
    fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, fs::read(e.path()).unwrap_or_default())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn restart_restores_totals_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path().join("run"));
    assert_eq!(run.open().unwrap().0, TotalsState::default());
    for i in 0..3 {
        log(&run, i);
    }
    let (_run, again, _) = reopen(run);
    assert_eq!(total(&again), Some(3.0));
    assert_eq!(again.unique_scenario_ids, ["s0", "s1", "s2"]);
}

#[test]
fn a_torn_row_is_dropped_with_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    run.open().unwrap();
    log(&run, 0);
    log(&run, 1);
    // Killed in the middle of row 2: its journal entry is complete, the row is not.
    let at = (row(0).len() + row(1).len()) as u64;
    announce(&path, 2, at);
    append_raw(&path.join(HISTORY_FILE), b"{\"costs/all\": 1.");
    let (run, state, _) = reopen(run);
    assert_eq!(total(&state), Some(2.0));
    assert_eq!(state.unique_scenario_ids, ["s0", "s1"]);
    // The writer cuts the torn row when it takes the lock; the next row counts.
    log(&run, 2);
    let history = fs::read_to_string(path.join(HISTORY_FILE)).unwrap();
    assert_eq!(history, format!("{}{}{}", row(0), row(1), row(2)));
    assert_eq!(total(&reopen(run).1), Some(3.0));
}

#[test]
fn the_last_entry_counts_when_its_row_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    log(&run, 0);
    // Killed after row 1 was written, before anything else.
    announce(&path, 1, 0);
    append_raw(&path.join(HISTORY_FILE), row(1).as_bytes());
    assert_eq!(total(&reopen(run).1), Some(2.0));
}

/// Issue #10, case 1: readers (another handle, `read_state`) never modify a file.
#[test]
fn readers_never_modify_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    for i in 0..3 {
        log(&run, i);
    }
    // A row being written: its entry is there, the row not yet.
    let entry = JournalEntry::new(4, &row(3), 0, changes(4.0, &[]), false, Vec::new());
    append_raw(&path.join(JOURNAL_FILE), entry.to_line().as_bytes());
    append_raw(&path.join(HISTORY_FILE), b"{\"costs/a");
    let before = snapshot(&path);
    let reader = RunDir::new(&path);
    assert_eq!(total(&reader.open().unwrap().0), Some(3.0));
    assert!(
        reader
            .read_state()
            .unwrap()
            .unwrap()
            .contains("\"costs/cum/all\": 3.0")
    );
    drop(reader);
    assert_eq!(snapshot(&path), before);
}

/// Issue #10, case 2: truncating, rotating or deleting history.jsonl never changes totals.
#[test]
fn totals_do_not_depend_on_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let history = path.join(HISTORY_FILE);
    let mut run = RunDir::new(&path);
    let mut i = 0;
    for action in ["truncate", "rotate", "delete", "truncate-between-runs"] {
        log(&run, i);
        log(&run, i + 1);
        i += 2;
        match action {
            "truncate" => fs::File::create(&history).map(drop).unwrap(),
            "rotate" => fs::rename(&history, path.join("history.jsonl.1")).unwrap(),
            "delete" => fs::remove_file(&history).unwrap(),
            _ => {
                run.close().unwrap();
                fs::File::create(&history).map(drop).unwrap();
            }
        }
        log(&run, i);
        i += 1;
        let (again, state, _) = reopen(run);
        assert_eq!(total(&state), Some(i as f64), "after {action}");
        run = again;
    }
    assert_eq!(
        fs::read_to_string(&history).unwrap().lines().count(),
        1,
        "appended to the new file"
    );
}

/// Issue #10, case 4: a bad journal line in the middle is reported and kept, not dropped
/// silently with everything after it; a torn tail inside a character is just a torn tail.
#[test]
fn a_corrupt_record_in_the_middle_is_reported_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    for i in 0..4 {
        log(&run, i);
    }
    let journal = path.join(JOURNAL_FILE);
    let text = fs::read_to_string(&journal).unwrap();
    // Line 3 (entry seq 2) gets a flipped digit.
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let bad = lines[2].replacen("2.0", "9.0", 1);
    let mut corrupted = format!("{}{}{bad}{}", lines[0], lines[1], lines[3..].concat());
    corrupted.push_str("{\"seq\": 5, \"row\": \"é");
    corrupted.pop();
    let mut bytes = corrupted.into_bytes();
    bytes.pop(); // half of 'é'
    fs::write(&journal, &bytes).unwrap();
    let (run, state, warnings) = reopen(run);
    assert_eq!(total(&state), Some(4.0), "later entries still count");
    assert_eq!(
        state.unique_scenario_ids,
        ["s0", "s1", "s2", "s3"],
        "s1, first seen by line 3's row, is repeated by line 4"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("state.journal") && w.contains("line(s) 3")),
        "{warnings:?}"
    );
    log(&run, 4);
    let kept: Vec<_> = fs::read_dir(&path)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("state.journal.corrupt-")
        })
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(fs::read(kept[0].path()).unwrap(), bytes);
    assert!(run.take_warnings().iter().any(|w| w.contains("kept as")));
}

/// Issue #21, case 7: a corrupt journal entry in the middle loses none of the scenario ids
/// it saw first (the next entry repeats them); where consecutive entries are corrupt, the
/// warning names exactly the entries whose ids are lost.
#[test]
fn corrupt_middle_entries_keep_or_name_their_scenario_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    for i in 0..10 {
        log(&run, i);
    }
    let journal = path.join(JOURNAL_FILE);
    let text = fs::read_to_string(&journal).unwrap();
    let lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    let flip = |l: &str| l.replacen("\"seq\"", "\"sEq\"", 1);
    // One bad line (entry 3, row 2, which saw "s2" first): every id survives.
    let mut one = lines.clone();
    one[3] = flip(&one[3]);
    fs::write(&journal, one.concat()).unwrap();
    let (run, state, warnings) = reopen(run);
    assert_eq!(total(&state), Some(10.0));
    let all: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    assert_eq!(state.unique_scenario_ids, all, "10 ids, none lost");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("line(s) 4") && w.contains("restored from the entries after them")),
        "{warnings:?}"
    );
    drop(run);
    // Entries 5 and 6 (rows 4 and 5) both bad: row 5's id is repeated by entry 7, row 4's
    // is lost, and the warning says so.
    let mut two = lines.clone();
    two[5] = flip(&two[5]);
    two[6] = flip(&two[6]);
    fs::write(&journal, two.concat()).unwrap();
    let run = RunDir::new(&path);
    let (state, _) = run.open().unwrap();
    let warnings = run.take_warnings();
    assert_eq!(total(&state), Some(10.0));
    let kept: Vec<String> = all.iter().filter(|s| *s != "s4").cloned().collect();
    assert_eq!(state.unique_scenario_ids, kept);
    assert!(
        warnings.iter().any(|w| w.contains("line(s) 6, 7")
            && w.contains("first seen by the rows of entries (seq) 5 are lost")),
        "{warnings:?}"
    );
}

/// Issue #10, case 7: when openpipe-art wrote a newer state.json, our older journal is not
/// replayed over it.
#[test]
fn a_state_json_replaced_by_another_program_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    run.open().unwrap();
    log(&run, 0);
    run.close().unwrap();
    log(&run, 1);
    // SIGKILL here (the journal holds row 1); openpipe-art then resumes and saves 11.
    drop(run);
    let mut state: Map<String, Value> =
        serde_json::from_slice(&fs::read(path.join(STATE_FILE)).unwrap()).unwrap();
    state[BUILDER_STATE_KEY]["cum_state"]["costs/cum/all"] = Value::from(11.0);
    fs::write(
        path.join(STATE_FILE),
        serde_json::to_string(&state).unwrap(),
    )
    .unwrap();
    let run = RunDir::new(&path);
    let (totals, _) = run.open().unwrap();
    assert_eq!(total(&totals), Some(11.0));
    let w = run.take_warnings();
    assert!(
        w.iter().any(|w| w.contains("replaced by another program")),
        "{w:?}"
    );
}

/// A handle writes only on top of the totals it loaded.
#[test]
fn a_handle_with_stale_totals_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let a = RunDir::new(&path);
    a.open().unwrap();
    let b = RunDir::new(&path);
    b.open().unwrap();
    log(&a, 0);
    let e = b.writer().err().unwrap().to_string();
    assert!(e.contains("create a new Model"), "{e}");
    // A handle loaded now (a notebook re-running its cell) continues.
    let c = RunDir::new(&path);
    assert_eq!(total(&c.open().unwrap().0), Some(1.0));
    c.writer()
        .unwrap()
        .append(&row(1), changes(2.0, &[]), false)
        .unwrap();
}

/// One writer: the lock is exclusive and names its holder.
#[test]
fn a_second_writer_is_told_who_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    log(&run, 0);
    let e = lock::WriterLock::acquire(&path).unwrap_err().to_string();
    assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
    assert!(e.contains(&path.display().to_string()), "{e}");
    run.close().unwrap();
    lock::WriterLock::acquire(&path).unwrap();
}

/// The spend guard keeps its budget in `_art_metrics`: we rewrite only our sub-keys.
#[test]
fn other_sub_keys_of_art_metrics_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    run.open().unwrap();
    run.merge_state(r#"{"_art_metrics": {"budget_usd": 2.5}, "user": 1}"#, false)
        .unwrap();
    for i in 0..3 {
        log(&run, i);
    }
    run.overwrite_state(r#"{"user": 2}"#, true).unwrap();
    log(&run, 3);
    run.close().unwrap();
    let v: Value = serde_json::from_slice(&fs::read(path.join(STATE_FILE)).unwrap()).unwrap();
    assert_eq!(v[COVERAGE_KEY]["budget_usd"], 2.5, "{v}");
    assert_eq!(v["user"], 2);
    assert_eq!(v[BUILDER_STATE_KEY]["cum_state"]["costs/cum/all"], 4.0);
}

/// Issue #10, case 9: a symlinked history is appended through, never cut; a history
/// without a final newline keeps its last row.
#[test]
fn symlinked_and_unterminated_histories_keep_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    fs::create_dir_all(&path).unwrap();
    let target = dir.path().join("elsewhere.jsonl");
    fs::write(&target, "{\"a\": 1}\n{\"b\": 2}").unwrap();
    std::os::unix::fs::symlink(&target, path.join(HISTORY_FILE)).unwrap();
    let run = RunDir::new(&path);
    run.open().unwrap();
    log(&run, 0);
    assert_eq!(
        fs::read_to_string(&target).unwrap(),
        format!("{{\"a\": 1}}\n{{\"b\": 2}}\n{}", row(0))
    );
    assert!(
        fs::symlink_metadata(path.join(HISTORY_FILE))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// Issue #10, case 5: a state.json with Infinity/NaN (openpipe-art writes them) resumes
/// with the values kept, one warning naming them, and is written back in Python's dialect.
#[test]
fn non_finite_totals_from_the_reference_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    fs::create_dir_all(&path).unwrap();
    fs::write(
        path.join(STATE_FILE),
        r#"{"_metrics_builder_state": {"cum_state": {"costs/cum/all": Infinity, "time/cum/x": NaN}, "unique_scenario_ids": []}}"#,
    )
    .unwrap();
    let run = RunDir::new(&path);
    let (state, bad) = run.open().unwrap();
    assert_eq!(total(&state), Some(f64::INFINITY));
    assert_eq!(bad, ["costs/cum/all", "time/cum/x"]);
    let w = run.take_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("costs/cum/all, time/cum/x"), "{w:?}");
    run.writer()
        .unwrap()
        .append(&row(0), changes(f64::INFINITY, &[]), false)
        .unwrap();
    let journal = fs::read_to_string(path.join(JOURNAL_FILE)).unwrap();
    assert!(!journal.contains("null"), "{journal}");
    run.close().unwrap();
    let text = fs::read_to_string(path.join(STATE_FILE)).unwrap();
    assert!(
        text.contains("\"costs/cum/all\": Infinity") && text.contains("NaN"),
        "{text}"
    );
    assert!(run.take_warnings().is_empty(), "warned once");
}

#[test]
fn many_logs_compact_and_stay_correct() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::with_compact_min_bytes(&path, 512);
    for i in 0..200 {
        log(&run, i);
    }
    // Folded once it outgrows state.json: never longer than that plus one entry.
    let journal = fs::metadata(path.join(JOURNAL_FILE)).unwrap().len();
    let state = fs::metadata(path.join(STATE_FILE)).unwrap().len();
    assert!(journal < state.max(512) + 256, "{journal} {state}");
    let (_run, state, _) = reopen(run);
    assert_eq!(total(&state), Some(200.0));
    assert_eq!(state.unique_scenario_ids.len(), 200);
}

/// Issue #21 case 6: a close whose fold fails (disk full) leaves state.json and the journal
/// as they were; the same handle then writes on top of them, every row counted once.
#[cfg(feature = "test-hooks")]
#[test]
fn a_failed_close_leaves_the_handle_writing() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path());
    run.open().unwrap();
    log(&run, 0);
    log(&run, 1);
    fsio::fail_next_writes_under(dir.path(), 1, libc::ENOSPC);
    let err = run.close().unwrap_err().to_string();
    assert!(err.contains("No space left"), "{err}");
    // The space is back: the next row was refused as "written by someone else".
    log(&run, 2);
    run.close().unwrap();
    let (_, state, _) = reopen(run);
    assert_eq!(total(&state), Some(3.0));
    let history = fs::read_to_string(dir.path().join(HISTORY_FILE)).unwrap();
    assert_eq!(history, format!("{}{}{}", row(0), row(1), row(2)));
}

/// A first write whose reconcile fails (the fold into state.json, disk full) takes no lock
/// and no stale position: the next write reconciles again and continues.
#[cfg(feature = "test-hooks")]
#[test]
fn a_failed_reconcile_leaves_the_handle_writing() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path());
    run.open().unwrap();
    log(&run, 0);
    drop(run);
    let run = RunDir::new(dir.path());
    run.open().unwrap();
    fsio::fail_next_writes_under(dir.path(), 1, libc::ENOSPC);
    assert!(run.writer().is_err());
    log(&run, 1);
    run.close().unwrap();
    let (_, state, _) = reopen(run);
    assert_eq!(total(&state), Some(2.0));
}

/// Issue #21, case 1: a torn last line the journal does not prove ours (an old journal,
/// another program's partial line, a file a link points to) is kept, ended with a newline.
#[test]
fn a_torn_line_not_ours_is_kept_and_ended() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    log(&run, 0);
    // An entry whose row would start elsewhere: the partial line is not its row.
    announce(&path, 1, 3);
    append_raw(&path.join(HISTORY_FILE), b"{\"not\": \"ours");
    let (run, state, _) = reopen(run);
    assert_eq!(total(&state), Some(1.0));
    log(&run, 1);
    let history = fs::read_to_string(path.join(HISTORY_FILE)).unwrap();
    assert_eq!(history, format!("{}{{\"not\": \"ours\n{}", row(0), row(1)));
    let warnings = run.take_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("partial line that art_metrics did not write")),
        "{warnings:?}"
    );
}

/// Issue #21, case 1: history.jsonl linked to a file whose last line is unfinished: the
/// file keeps every byte it had.
#[test]
fn a_linked_history_keeps_the_targets_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    fs::create_dir_all(&path).unwrap();
    let target = dir.path().join("notes.txt");
    fs::write(&target, "line one\nline two, unfinished").unwrap();
    std::os::unix::fs::symlink(&target, path.join(HISTORY_FILE)).unwrap();
    let run = RunDir::new(&path);
    log(&run, 0);
    let text = fs::read_to_string(&target).unwrap();
    assert_eq!(text, format!("line one\nline two, unfinished\n{}", row(0)));
}

fn assert_link_refused(err: CoreError, name: &str) {
    let msg = err.to_string();
    assert!(msg.contains(name) && msg.contains("symbolic link"), "{msg}");
}

/// Issue #21, case 1: the journal and the lock file are never opened through a link.
#[test]
fn the_journal_and_the_lock_are_never_written_through_links() {
    for name in [JOURNAL_FILE, lock::LOCK_FILE] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run");
        fs::create_dir_all(&path).unwrap();
        let target = dir.path().join("precious");
        fs::write(&target, "keep me").unwrap();
        std::os::unix::fs::symlink(&target, path.join(name)).unwrap();
        let run = RunDir::new(&path);
        let err = match run.open() {
            Err(e) => e,
            Ok(_) => run
                .writer()
                .and_then(|mut w| w.append(&row(0), changes(1.0, &[]), false))
                .expect_err("a write through the link"),
        };
        assert_link_refused(err, name);
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep me", "{name}");
    }
}

/// Issue #21, case 1: a link planted at a temporary name of state.json is never written
/// through, and state.json stays a plain file.
#[test]
fn planted_temporary_links_are_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    fs::create_dir_all(&path).unwrap();
    let target = dir.path().join("precious");
    fs::write(&target, "keep me").unwrap();
    // Every name the next writes of this process could take.
    let pid = std::process::id();
    for n in 0..200 {
        let _ =
            std::os::unix::fs::symlink(&target, path.join(format!(".state.json.tmp.{pid}.{n}")));
    }
    let run = RunDir::new(&path);
    log(&run, 0);
    run.close().unwrap();
    assert_eq!(fs::read_to_string(&target).unwrap(), "keep me");
    let meta = fs::symlink_metadata(path.join(STATE_FILE)).unwrap();
    assert!(meta.file_type().is_file());
}

/// Issue #21, case 1: a history.jsonl that is not a regular file (`/dev/zero`) is refused
/// with an error naming it, by readers and the writer.
#[test]
fn a_history_that_is_not_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    fs::create_dir_all(&path).unwrap();
    std::os::unix::fs::symlink("/dev/zero", path.join(HISTORY_FILE)).unwrap();
    let msg = RunDir::new(&path).open().unwrap_err().to_string();
    assert!(
        msg.contains(HISTORY_FILE) && msg.contains("not a regular file"),
        "{msg}"
    );
}

/// Issue #21, case 7: an entry written before entries repeated their previous entry's ids
/// cannot restore them: the warning names the lost entry rather than claiming a restore.
#[test]
fn a_lost_entry_before_an_old_style_entry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run");
    let run = RunDir::new(&path);
    for i in 0..4 {
        log(&run, i);
    }
    let journal = path.join(JOURNAL_FILE);
    let text = fs::read_to_string(&journal).unwrap();
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    // Line 3 (entry 2) corrupt; line 4 (entry 3) as an older version wrote it.
    lines[2] = lines[2].replacen("\"seq\"", "\"sEq\"", 1);
    let mut old = journal::parse(lines[3].as_bytes()).entries.remove(0);
    old.prev_new_scenario_ids = None;
    lines[3] = old.to_line();
    fs::write(&journal, lines.concat()).unwrap();
    drop(run);
    let run = RunDir::new(&path);
    let (state, _) = run.open().unwrap();
    assert_eq!(state.unique_scenario_ids, ["s0", "s2", "s3"]);
    let warnings = run.take_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("first seen by the rows of entries (seq) 2 are lost")),
        "{warnings:?}"
    );
}
