//! The run directory: `history.jsonl`, `state.json` and the `state.journal` that keeps them
//! consistent through crashes.
//!
//! # Files
//! * `history.jsonl`: one metrics row per line, exactly as openpipe-art writes it.
//! * `state.json`: the reference's format (`{"_metrics_builder_state": {"cum_state": {...},
//!   "unique_scenario_ids": [...]}, ...user keys}`) plus one key of ours,
//!   `"_art_metrics": {"history_bytes": N}`: the length of history.jsonl the state accounts for.
//! * `state.journal`: one JSON line per history row that changed the running totals, holding
//!   the row's byte range in history.jsonl, the new values of the totals it touched and the
//!   scenario ids it saw first.
//!
//! # Why a journal
//! The reference rewrites the whole state.json after every log; with a growing set of
//! scenario ids that makes each log slower than the last, and a kill during the rewrite tears
//! the file so the run cannot restart. Here a log appends a journal line (tens of bytes) and
//! then its history row, so its cost does not depend on the run's length. The journal is
//! folded into state.json (written atomically: temporary file, fsync, rename) when it grows
//! past the size of state.json itself (at least [`COMPACT_MIN_BYTES`]), so compaction costs
//! amortise to a constant per log; and whenever state is read, merged or overwritten, so
//! `read_state()` and state.json always show the reference's format, up to date.
//!
//! # Crash safety: what a restart sees after a SIGKILL at any instant
//! Each log writes, in this order: (1) the journal line, (2) the history row, each with a
//! single `write` on an `O_APPEND` file. A row *counts* iff it is complete in history.jsonl.
//! On open ([`RunDir::open`]), before anything else:
//! 1. A torn last history line (no trailing newline) is cut off; rows never contain a raw
//!    newline, so a torn row is removed whole.
//! 2. A torn or garbled tail of the journal is cut off: its row was never started.
//! 3. Journal entries whose row lies within `history_bytes` of state.json are already folded
//!    in and are skipped (a kill between the rename of state.json and the truncation of the
//!    journal leaves such entries behind).
//! 4. The other entries are replayed in order while their row's byte range is complete in
//!    history.jsonl. The first entry whose row is not is the one being written when the
//!    process died: it and its partial row are dropped.
//!
//! Entries carry absolute totals (not deltas) and ids are a set, so replaying an entry twice
//! is harmless; and an entry is applied iff its row survived. Hence after any crash the
//! restored totals are exactly those after the last surviving row: nothing counted twice,
//! nothing lost. This protects against process death; against power loss the appends would
//! also need an fsync each, which we do not pay for on every log (state.json is fsynced).

mod fsio;
mod journal;

use std::fs::File;
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, MutexGuard};
use serde_json::{Map, Value};

use crate::error::{CoreError, CoreResult};
use crate::metrics::totals::{TotalsChanges, TotalsState};
#[cfg(feature = "test-hooks")]
pub use fsio::fail_next_appends;
pub use journal::{BUILDER_STATE_KEY, JournalEntry};

pub const HISTORY_FILE: &str = "history.jsonl";
pub const STATE_FILE: &str = "state.json";
pub const JOURNAL_FILE: &str = "state.journal";
/// Our key in state.json: how much of history.jsonl the saved state accounts for.
pub const COVERAGE_KEY: &str = "_art_metrics";
/// The journal is folded into state.json once it is larger than this and than state.json.
pub const COMPACT_MIN_BYTES: u64 = 1 << 20;

/// A run directory. Every method takes the one lock, so writes from many threads are
/// serialized and each history row is followed by nothing but whole rows.
#[derive(Debug)]
pub struct RunDir {
    dir: PathBuf,
    compact_min_bytes: u64,
    files: Mutex<Files>,
}

#[derive(Debug, Default)]
struct Files {
    history: Option<File>,
    journal: Option<File>,
    journal_len: u64,
    state_len: u64,
    snapshot_next: bool,
}

/// Exclusive access for one log: flush the builder and append its row under this guard so
/// rows and journal entries follow the order in which totals changed.
pub struct RunWriter<'a> {
    run: &'a RunDir,
    files: MutexGuard<'a, Files>,
}

impl RunDir {
    /// A handle on `dir`; nothing is read or created until it is used.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RunDir {
            dir: dir.into(),
            compact_min_bytes: COMPACT_MIN_BYTES,
            files: Mutex::new(Files::default()),
        }
    }

    /// Folds the journal once it is larger than `bytes` (and than state.json); tests use a
    /// small value to exercise compaction often.
    pub fn with_compact_min_bytes(mut self, bytes: u64) -> Self {
        self.compact_min_bytes = bytes;
        self
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Repairs and reconciles the directory (see the module docs) and returns the running
    /// totals saved in it.
    pub fn open(&self) -> CoreResult<TotalsState> {
        let mut files = self.files.lock();
        fsio::remove_stale_temp_files(&self.dir, STATE_FILE);
        let state = self.compact_locked(&mut files)?;
        builder_totals(&state, &self.file(STATE_FILE))
    }

    /// Starts a log: holds the lock until the guard is dropped.
    pub fn writer(&self) -> RunWriter<'_> {
        RunWriter {
            run: self,
            files: self.files.lock(),
        }
    }

    /// The text of state.json, with the journal folded in first; `None` if there is none.
    pub fn read_state(&self) -> CoreResult<Option<String>> {
        let mut files = self.files.lock();
        self.compact_locked(&mut files)?;
        fsio::read_opt(&self.file(STATE_FILE))
    }

    /// Replaces state.json with the JSON object `json` (plus our coverage key). Totals not yet
    /// folded in are dropped, as the caller asked; with `snapshot_next` the next logged row
    /// saves the complete in-memory totals again (the reference re-saves them on every log).
    pub fn overwrite_state(&self, json: &str, snapshot_next: bool) -> CoreResult<()> {
        let mut files = self.files.lock();
        let mut state = parse_object(json, "state")?;
        let history_len = fsio::repair_torn_tail(&self.file(HISTORY_FILE))?;
        self.write_state_locked(&mut files, &mut state, history_len)?;
        files.snapshot_next = snapshot_next;
        Ok(())
    }

    /// Deep-merges the JSON object `json` into state.json (dicts recursively, anything else
    /// replaced) and returns the merged text.
    pub fn merge_state(&self, json: &str, snapshot_next: bool) -> CoreResult<String> {
        let mut files = self.files.lock();
        let update = parse_object(json, "state")?;
        let mut state = self.compact_locked(&mut files)?;
        deep_merge(&mut state, update);
        let history_len = fsio::file_len(&self.file(HISTORY_FILE))?;
        let text = self.write_state_locked(&mut files, &mut state, history_len)?;
        files.snapshot_next = snapshot_next;
        Ok(text)
    }

    /// Folds the journal into state.json now.
    pub fn compact(&self) -> CoreResult<()> {
        let mut files = self.files.lock();
        self.compact_locked(&mut files).map(|_| ())
    }

    /// Reconciles (module docs, steps 1-4) and, when the journal held anything, writes the
    /// folded state and empties the journal. Returns the state.
    fn compact_locked(&self, files: &mut Files) -> CoreResult<Map<String, Value>> {
        let history_path = self.file(HISTORY_FILE);
        let journal_path = self.file(JOURNAL_FILE);
        let state_path = self.file(STATE_FILE);
        let mut history_len = fsio::repair_torn_tail(&history_path)?;
        let mut state = match fsio::read_opt(&state_path)? {
            Some(text) => parse_object(&text, &state_path.display().to_string()).map_err(|e| {
                // We never tear state.json, but openpipe-art can when killed mid-write.
                CoreError::Corrupt(format!(
                    "{e}. It may have been torn by a crash of another writer; move it away to \
                     restart the running totals from zero"
                ))
            })?,
            None => Map::new(),
        };
        let covered = state
            .get(COVERAGE_KEY)
            .and_then(|c| c.get("history_bytes"))
            .and_then(Value::as_u64);
        let journal_text = fsio::read_opt(&journal_path)?.unwrap_or_default();
        if journal_text.is_empty() {
            files.journal_len = 0;
            files.state_len = fsio::file_len(&state_path)?;
            return Ok(state);
        }
        let (entries, valid_end) = journal::parse(&journal_text);
        let mut keep_end = valid_end;
        let mut folder = journal::StateFolder::new(&mut state);
        for (offset, entry) in &entries {
            if covered.is_some_and(|c| entry.row.1 <= c) {
                continue;
            }
            if entry.row.1 > history_len {
                // The row this entry announced never completed: the log did not happen.
                fsio::truncate_path(&history_path, entry.row.0)?;
                history_len = history_len.min(entry.row.0);
                keep_end = *offset;
                break;
            }
            folder.apply(entry);
        }
        folder.finish();
        fsio::truncate_path(&journal_path, keep_end)?;
        self.write_state_locked(files, &mut state, history_len)?;
        Ok(state)
    }

    /// Writes `state` with its coverage key atomically and empties the journal (in that
    /// order: entries left by a kill in between are skipped on replay as already covered).
    fn write_state_locked(
        &self,
        files: &mut Files,
        state: &mut Map<String, Value>,
        history_len: u64,
    ) -> CoreResult<String> {
        // Other keys of ours (the spend guard's budget) are kept.
        let ours = state
            .entry(COVERAGE_KEY)
            .or_insert_with(|| Value::Object(Map::new()));
        if !ours.is_object() {
            *ours = Value::Object(Map::new());
        }
        if let Value::Object(ours) = ours {
            ours.insert("history_bytes".into(), Value::from(history_len));
        }
        let text = serde_json::to_string_pretty(&*state)
            .map_err(|e| CoreError::value(format!("cannot serialize state: {e}")))?;
        fsio::atomic_write(&self.file(STATE_FILE), text.as_bytes())?;
        fsio::truncate_path(&self.file(JOURNAL_FILE), 0)?;
        files.journal_len = 0;
        files.state_len = text.len() as u64;
        Ok(text)
    }
}

impl RunWriter<'_> {
    /// True when the next row must carry a full snapshot of the totals (after
    /// `overwrite_state` or `merge_state`).
    pub fn snapshot_pending(&self) -> bool {
        self.files.snapshot_next
    }

    /// Appends one history row (`line` ends with a newline) and, when the totals changed,
    /// its journal entry first. `reset` marks `changes` as a full snapshot.
    pub fn append(&mut self, line: &str, changes: TotalsChanges, reset: bool) -> CoreResult<()> {
        let dir = &self.run.dir;
        let history_path = self.run.file(HISTORY_FILE);
        if self.files.history.is_none() {
            std::fs::create_dir_all(dir)
                .map_err(|e| fsio::io_err("cannot create directory", dir, e))?;
            self.files.history = Some(fsio::open_append(&history_path)?);
        }
        let history = self.files.history.as_mut().expect("opened above");
        // The actual end of the file, in case something else appended to it.
        let start = history
            .metadata()
            .map_err(|e| fsio::io_err("cannot stat", &history_path, e))?
            .len();
        let journal_len = self.files.journal_len;
        if let Err(e) = self.append_row(start, line, changes, reset) {
            // A full disk can take half a line. Cut both files back to where they were
            // (shrinking needs no space), so that the next row follows whole rows only.
            let journal_path = self.run.file(JOURNAL_FILE);
            let _ = fsio::truncate_path(&history_path, start);
            let _ = fsio::truncate_path(&journal_path, journal_len);
            self.files.journal_len = journal_len;
            return Err(e);
        }
        self.files.snapshot_next = false;
        if self.files.journal_len > self.run.compact_min_bytes.max(self.files.state_len) {
            // The row is saved (the journal holds its totals); folding them into state.json
            // can wait for a later row if the disk is full now.
            let _ = self.run.compact_locked(&mut self.files);
        }
        Ok(())
    }

    /// The journal entry (when the totals changed), then the row.
    fn append_row(
        &mut self,
        start: u64,
        line: &str,
        changes: TotalsChanges,
        reset: bool,
    ) -> CoreResult<()> {
        let history_path = self.run.file(HISTORY_FILE);
        if reset || !changes.is_empty() {
            let entry = JournalEntry::new((start, start + line.len() as u64), changes, reset);
            let entry_line = entry.to_line();
            let journal_path = self.run.file(JOURNAL_FILE);
            if self.files.journal.is_none() {
                self.files.journal = Some(fsio::open_append(&journal_path)?);
            }
            let journal = self.files.journal.as_mut().expect("opened above");
            fsio::append(journal, &journal_path, entry_line.as_bytes())?;
            self.files.journal_len += entry_line.len() as u64;
        }
        let history = self.files.history.as_mut().expect("opened above");
        fsio::append(history, &history_path, line.as_bytes())
    }
}

fn parse_object(text: &str, what: &str) -> CoreResult<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(CoreError::Corrupt(format!("{what} must be a JSON object"))),
        Err(e) => Err(CoreError::Corrupt(format!("{what} is not valid JSON: {e}"))),
    }
}

/// Dicts merge recursively; any other value replaces what was there.
pub fn deep_merge(into: &mut Map<String, Value>, update: Map<String, Value>) {
    for (k, v) in update {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(old)), Value::Object(new)) => deep_merge(old, new),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// The running totals under `_metrics_builder_state`, as the reference restores them.
fn builder_totals(state: &Map<String, Value>, path: &Path) -> CoreResult<TotalsState> {
    let mut out = TotalsState::default();
    let Some(Value::Object(builder)) = state.get(BUILDER_STATE_KEY) else {
        return Ok(out);
    };
    if let Some(Value::Object(cum)) = builder.get("cum_state") {
        for (k, v) in cum {
            let v = v.as_f64().ok_or_else(|| {
                CoreError::Corrupt(format!(
                    "{}: cum_state['{k}'] is not a number: {v}",
                    path.display()
                ))
            })?;
            out.cum_state.push((k.clone(), v));
        }
    }
    if let Some(Value::Array(ids)) = builder.get("unique_scenario_ids") {
        out.unique_scenario_ids = ids.iter().map(journal::id_string).collect();
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
