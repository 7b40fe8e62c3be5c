//! The run directory: `history.jsonl`, `state.json` and the `state.journal` that keeps them
//! consistent through crashes, with one writer and readers that never write.
//!
//! # Files
//! * `history.jsonl`: one metrics row per line, exactly as openpipe-art writes it.
//! * `state.json`: the reference's format (`{"_metrics_builder_state": {"cum_state": {...},
//!   "unique_scenario_ids": [...]}, ...user keys}`) plus our sub-keys of `"_art_metrics"`:
//!   `journal_seq` (the last journal entry folded in) and `compensation` (the exact sums'
//!   compensation terms). Other sub-keys of `_art_metrics` (a budget, ...) are kept.
//! * `state.journal`: self-checking lines (see [`journal`]): a header with the fingerprint
//!   of the state.json it extends, then one entry per history row: a sequence number, the
//!   hash of the row, the new values of the totals it changed, the scenario ids it saw first
//!   and those the previous entry saw first (history rows do not name ids, so this repeat is
//!   what lets a corrupt entry lose none).
//! * `.art_metrics.lock`: the writer's lock (see [`lock`]), holding its pid.
//!
//! # One writer, readers that never write
//! The first write of a process (a log, `merge_state`, `overwrite_state`, `compact`) takes
//! an exclusive `flock` on the lock file, held until [`RunDir::close`] or exit. Another
//! process that tries to write gets an error naming the directory and the holder's pid.
//! Every [`RunDir::new`] on the same directory in one process shares one writer (a
//! notebook that re-runs its `Model(...)` cell keeps working). Anything that reads (loading
//! totals, `read_state`, the CLI) folds the journal *in memory* and modifies no file.
//!
//! Each handle remembers the write sequence number and totals it loaded. A handle writes
//! only on top of what it loaded: if anything else (another `Model` in this process, another
//! process that has since exited, openpipe-art) wrote to the run meanwhile, its write is
//! refused with an error saying to create a new `Model`, rather than saving stale totals.
//!
//! # Crash safety
//! A log appends its journal entry, then its row, each with one `write` on an `O_APPEND`
//! file; entry N+1 is written only after row N is complete. So every entry but the last is
//! committed by construction, and the last counts iff history.jsonl ends with its row (hash
//! match, among the last rows). Entries carry absolute totals and ids form a set, so
//! replaying is idempotent; state.json records the last sequence number folded in, so
//! nothing is applied twice. Totals do not depend on history's bytes: truncating, rotating
//! or deleting history.jsonl never changes them (the writer checks before each append that
//! the path still names the file it holds, and reopens it if not).
//!
//! When the writer takes the lock it reconciles: a torn last history line is cut (a final
//! row that is whole JSON but lacks its newline gets the newline instead; a symlinked
//! history is appended through and repaired through), the journal is folded into state.json
//! (written atomically: temporary file, fsync, rename) and restarted. It is folded again
//! when it outgrows state.json (at least [`COMPACT_MIN_BYTES`]), on `merge_state`,
//! `overwrite_state` and close.
//!
//! # Corruption
//! A torn journal tail (an incomplete last line, a last line failing its checksum, one
//! ending inside a UTF-8 character) is the entry being written when the process died: cut.
//! A bad line in the middle is never dropped silently: the run opens with every valid entry
//! (a bad entry loses only the totals that it alone changed; its ids come back from the next
//! entry, unless that one is bad too), a warning names the file, the lines, and whether the
//! ids were restored or which entries' (by sequence number) were lost, and the writer keeps
//! the journal beside as `state.journal.corrupt-<unix time>`.
//!
//! If state.json was replaced by another program (openpipe-art) since we last wrote it (its
//! fingerprint differs from the journal header's), the journal's entries are not replayed
//! over it: a warning says so and the writer keeps them as `state.journal.stale-<time>`.

pub mod fsio;
pub mod journal;
pub mod lock;
pub mod names;
pub mod state;

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, MutexGuard};
use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

use crate::error::{CoreError, CoreResult};
use crate::fork::{self, ForkLocks};
use crate::metrics::totals::{TotalsChanges, TotalsState};
#[cfg(feature = "test-hooks")]
pub use fsio::{fail_next_appends, fail_next_writes_under};
pub use journal::JournalEntry;
use lock::WriterLock;
pub use state::BUILDER_STATE_KEY;
pub use state::{COVERAGE_KEY, budget_update, deep_merge, saved_budget};

pub const HISTORY_FILE: &str = "history.jsonl";
pub const STATE_FILE: &str = "state.json";
pub const JOURNAL_FILE: &str = "state.journal";
/// Rows written to history.jsonl that some reporter had not received when its process
/// closed the run (the caller's own JSON), for the next process to deliver.
pub const UNDELIVERED_FILE: &str = ".art_metrics.undelivered.json";
/// The journal is folded into state.json once it is larger than this and than state.json.
pub const COMPACT_MIN_BYTES: u64 = 1 << 20;
/// How many of history's last rows the last journal entry's row is looked for in.
const TAIL_ROWS: usize = 16;

/// One process's view of a run directory, shared by every handle on it.
#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    compact_min_bytes: u64,
    files: Mutex<Files>,
}

#[derive(Debug, Default)]
struct Files {
    lock: Option<WriterLock>,
    history: Option<(File, (u64, u64))>,
    journal: Option<File>,
    journal_len: u64,
    state_len: u64,
    /// The last sequence number written (while we are the writer).
    seq: u64,
    /// The scenario ids our last entry in the current journal saw first (repeated by the
    /// next entry; empty once the journal restarts, its ids then being in state.json).
    prev_ids: Vec<String>,
    /// The fingerprint of the state.json we last wrote (the journal header's base).
    base: String,
    snapshot_next: bool,
    /// What each handle loaded, by handle id.
    synced: FxHashMap<u64, Tip>,
    /// The handles that have written; the lock is released when the last one closes.
    writers: std::collections::HashSet<u64>,
    /// Warnings for the Python layer to issue, and every one issued (each is issued once).
    warnings: Vec<String>,
    warned: std::collections::HashSet<String>,
}

/// What a handle's totals correspond to: the write sequence number and a fingerprint of
/// the totals.
#[derive(Debug, Clone, PartialEq)]
struct Tip {
    seq: u64,
    totals: String,
}

/// A handle on a run directory (see the module docs).
#[derive(Debug)]
pub struct RunDir {
    shared: Arc<Shared>,
    id: u64,
}

static REGISTRY: Mutex<Vec<(PathBuf, Weak<Shared>)>> = Mutex::new(Vec::new());
static HANDLES: AtomicU64 = AtomicU64::new(0);

/// Exclusive access for one log: flush the builder and append its row under this guard so
/// rows and journal entries follow the order in which totals changed.
pub struct RunWriter<'a> {
    run: &'a RunDir,
    files: MutexGuard<'a, Files>,
}

impl ForkLocks for Shared {
    unsafe fn repair_in_child(&self) -> usize {
        // SAFETY: forwarded from the caller. The emptied state has no lock: the child
        // cannot write where its parent writes (its own lock attempt names the parent).
        usize::from(unsafe { fork::repair_mutex(&self.files) })
    }
}

/// Repairs the run-directory registry in a forked child ([`crate::fork`]).
///
/// # Safety
/// Only in a child right after `fork()`, before any other thread exists.
pub unsafe fn repair_registry_in_child() -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { fork::repair_mutex(&REGISTRY) }
}

/// `dir` made absolute with symlinks resolved as far as it exists.
fn canonical(dir: &Path) -> PathBuf {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            return rest.iter().rev().fold(c, |p, r| p.join(r));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return abs,
        }
    }
}

impl RunDir {
    /// A handle on `dir`; nothing is read or created until it is used.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self::with_compact_min_bytes(dir, COMPACT_MIN_BYTES)
    }

    /// As [`RunDir::new`]; the journal is folded once it is larger than `bytes` (and than
    /// state.json). The first handle on a directory decides.
    pub fn with_compact_min_bytes(dir: impl Into<PathBuf>, bytes: u64) -> Self {
        let dir = dir.into();
        let key = canonical(&dir);
        let (shared, created) = {
            let mut reg = REGISTRY.lock();
            reg.retain(|(_, w)| w.strong_count() > 0);
            if let Some(s) = reg
                .iter()
                .find(|(p, _)| *p == key)
                .and_then(|(_, w)| w.upgrade())
            {
                (s, false)
            } else {
                let s = Arc::new(Shared {
                    dir,
                    compact_min_bytes: bytes,
                    files: Mutex::new(Files::default()),
                });
                reg.push((key, Arc::downgrade(&s)));
                (s, true)
            }
        };
        if created {
            // Outside REGISTRY: the fork registry's lock comes first in the lock order.
            fork::register(&(Arc::clone(&shared) as Arc<dyn ForkLocks>));
        }
        RunDir {
            shared,
            id: HANDLES.fetch_add(1, Ordering::Relaxed),
        }
    }

    pub fn path(&self) -> &Path {
        &self.shared.dir
    }

    fn file(&self, name: &str) -> PathBuf {
        self.shared.dir.join(name)
    }

    /// The running totals saved in the directory (read-only: no file is modified), and the
    /// names of totals that are not finite. This handle's later writes build on them.
    pub fn open(&self) -> CoreResult<(TotalsState, Vec<String>)> {
        let mut files = self.shared.files.lock();
        let folded = self.fold(&mut files)?;
        let what = self.file(STATE_FILE).display().to_string();
        let (totals, non_finite) = state::builder_totals(&folded.state, &what)?;
        files.synced.insert(self.id, folded.tip());
        Ok((totals, non_finite))
    }

    /// Warnings found since the last call (corruption, a replaced state.json, ...).
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut self.shared.files.lock().warnings)
    }

    /// Starts a log: takes the writer role if needed and holds the lock until the guard
    /// is dropped.
    pub fn writer(&self) -> CoreResult<RunWriter<'_>> {
        let mut files = self.shared.files.lock();
        self.ensure_writer(&mut files, true)?;
        Ok(RunWriter { run: self, files })
    }

    /// The text of state.json with the journal folded in (in memory: no file changes);
    /// `None` if there is neither.
    pub fn read_state(&self) -> CoreResult<Option<String>> {
        let mut files = self.shared.files.lock();
        let mut folded = self.fold(&mut files)?;
        if folded.state.is_empty() && folded.state_bytes.is_none() {
            return Ok(None);
        }
        state::set_covered_seq(&mut folded.state, folded.seq);
        state::write(&folded.state).map(Some)
    }

    /// Replaces state.json with the JSON object `json` (our sub-keys are kept). With
    /// `snapshot_next` the next logged row saves the complete in-memory totals again (the
    /// reference re-saves them on every log).
    pub fn overwrite_state(&self, json: &str, snapshot_next: bool) -> CoreResult<()> {
        let mut new = state::parse(json.as_bytes(), "state")?;
        let mut files = self.shared.files.lock();
        self.ensure_writer(&mut files, false)?;
        let old = self.fold(&mut files)?.state;
        if let Some(Value::Object(ours)) = old.get(COVERAGE_KEY) {
            let mine = state::ours(&mut new);
            for (k, v) in ours {
                if [state::COMPENSATION_KEY].contains(&k.as_str()) || !mine.contains_key(k) {
                    mine.entry(k.clone()).or_insert(v.clone());
                }
            }
        }
        files.seq += 1;
        self.write_state_locked(&mut files, &mut new)?;
        files.snapshot_next = snapshot_next;
        let seq = files.seq;
        let tip = Tip {
            seq,
            totals: String::new(),
        };
        files.synced.insert(self.id, tip);
        Ok(())
    }

    /// Deep-merges the JSON object `json` into state.json and returns the merged text.
    pub fn merge_state(&self, json: &str, snapshot_next: bool) -> CoreResult<String> {
        let update = state::parse(json.as_bytes(), "state")?;
        let mut files = self.shared.files.lock();
        self.ensure_writer(&mut files, false)?;
        let mut merged = self.fold(&mut files)?.state;
        let touches_totals = update.contains_key(BUILDER_STATE_KEY);
        deep_merge(&mut merged, update);
        if touches_totals {
            files.seq += 1;
        }
        let text = self.write_state_locked(&mut files, &mut merged)?;
        files.snapshot_next = snapshot_next;
        let seq = files.seq;
        if let Some(tip) = files.synced.get_mut(&self.id) {
            tip.seq = seq;
        }
        Ok(text)
    }

    fn fold_due(&self, files: &Files) -> bool {
        files.journal_len > self.shared.compact_min_bytes.max(files.state_len)
    }

    /// Whether this process writes the run and its journal has outgrown state.json.
    pub fn fold_due_now(&self) -> bool {
        let files = self.shared.files.lock();
        files.lock.as_ref().is_some_and(WriterLock::held_here) && self.fold_due(&files)
    }

    /// Folds the journal into state.json if this process writes the run and the journal
    /// has outgrown state.json (what a log whose append was
    /// [`append_unfolded`](RunWriter::append_unfolded) leaves to do). A failure leaves the
    /// fold to a later row, as an append's own fold does.
    pub fn fold_if_due(&self) {
        let mut files = self.shared.files.lock();
        if files.lock.as_ref().is_some_and(WriterLock::held_here) && self.fold_due(&files) {
            let _ = self.compact_locked(&mut files);
        }
    }

    /// Folds the journal into state.json now, taking the writer role if no one has it
    /// (`python -m art_metrics compact`).
    pub fn compact(&self) -> CoreResult<()> {
        let mut files = self.shared.files.lock();
        self.ensure_writer(&mut files, false)?;
        self.compact_locked(&mut files).map(|_| ())
    }

    /// When this handle has written: folds the journal and, once no other handle of this
    /// process is writing, releases the lock and the files (a later write takes them
    /// again). A handle that only read changes nothing.
    pub fn close(&self) -> CoreResult<()> {
        let mut files = self.shared.files.lock();
        if !files.lock.as_ref().is_some_and(WriterLock::held_here)
            || !files.writers.remove(&self.id)
        {
            return Ok(());
        }
        let result = self.fold(&mut files).and_then(|mut folded| {
            // Handles in step with the writer stay so: their next write (which takes the
            // lock again) compares against these totals. They are what a fresh open sees
            // whether or not the write below succeeds (a failed one leaves state.json and
            // the journal as they were), so a close that fails on a full disk still lets
            // them continue once there is space (issue #21 case 6).
            let tip = folded.tip();
            let seq = files.seq;
            for t in files.synced.values_mut().filter(|t| t.seq == seq) {
                *t = tip.clone();
            }
            self.write_state_locked(&mut files, &mut folded.state)
        });
        if files.writers.is_empty() {
            files.history = None;
            files.journal = None;
            files.lock = None;
        }
        result.map(|_| ())
    }

    /// Keeps `json` (rows not yet delivered to every reporter) for the next process, or
    /// removes what was kept (`None`). Written atomically, never through a link.
    pub fn save_undelivered(&self, json: Option<&[u8]>) -> CoreResult<()> {
        let path = self.file(UNDELIVERED_FILE);
        match json {
            Some(bytes) => fsio::atomic_write(&path, bytes),
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(fsio::io_err("cannot remove", &path, e))
                }
                _ => Ok(()),
            },
        }
    }

    /// What [`save_undelivered`](Self::save_undelivered) kept, if anything (never read
    /// through a link).
    pub fn read_undelivered(&self) -> CoreResult<Option<Vec<u8>>> {
        fsio::read_bytes_opt(&self.file(UNDELIVERED_FILE), false)
    }

    /// Whether this process holds the writer lock.
    pub fn is_writer(&self) -> bool {
        let files = self.shared.files.lock();
        files.lock.as_ref().is_some_and(WriterLock::held_here)
    }

    /// Makes this process the writer (taking the lock and reconciling the directory the
    /// first time), and with `check_synced` refuses a handle whose totals are stale.
    fn ensure_writer(&self, files: &mut Files, check_synced: bool) -> CoreResult<()> {
        self.take_writer_role(files, check_synced)?;
        files.writers.insert(self.id);
        Ok(())
    }

    fn take_writer_role(&self, files: &mut Files, check_synced: bool) -> CoreResult<()> {
        match &files.lock {
            Some(l) if l.held_here() => {
                if check_synced
                    && let Some(tip) = files.synced.get(&self.id)
                    && tip.seq != files.seq
                {
                    return Err(self.stale_error());
                }
                return Ok(());
            }
            Some(l) => {
                return Err(CoreError::Io(format!(
                    "run directory {} is written by the parent process (pid {}); a forked \
                     child gets a copy of its totals but cannot write there: write to \
                     another run directory",
                    self.shared.dir.display(),
                    l.pid()
                )));
            }
            None => {}
        }
        let lock = WriterLock::acquire(&self.shared.dir)?;
        let folded = self.fold(files)?;
        if check_synced
            && let Some(tip) = files.synced.get(&self.id)
            && *tip != folded.tip()
        {
            return Err(self.stale_error());
        }
        fsio::remove_stale_temp_files(&self.shared.dir, STATE_FILE);
        // The lock is kept only once the directory is reconciled: a reconcile that fails
        // (a full disk) leaves no half-set writer state, and the next write tries again.
        self.reconcile(files, folded)?;
        files.lock = Some(lock);
        Ok(())
    }

    fn stale_error(&self) -> CoreError {
        CoreError::value(format!(
            "the run directory {} was written by someone else since this Model loaded its \
             totals; create a new Model to continue from the current totals",
            self.shared.dir.display()
        ))
    }

    /// The writer's repair on taking the lock: history's tail, set-aside journals, then
    /// the journal folded into state.json.
    fn reconcile(&self, files: &mut Files, mut folded: Folded) -> CoreResult<()> {
        // Another writer may have run since our last entry: never repeat its ids.
        files.prev_ids.clear();
        let history = self.file(HISTORY_FILE);
        match folded.history.unterminated {
            // A whole row someone wrote without its newline: the newline is added.
            Some(true) => {
                let mut f = fsio::open_append(&history, true)?;
                fsio::append(&mut f, &history, b"\n")?;
            }
            // Our own row, torn by a crash (the journal proves it): cut.
            Some(false) if folded.torn_row_is_ours => {
                let f = fsio::open_append(&history, true)?;
                fsio::truncate(&f, &history, folded.history.terminated_len)?;
            }
            // Bytes we did not write: kept, ended with a newline so that our rows stay whole
            // (readers skip the partial line with a warning).
            Some(false) => {
                let mut f = fsio::open_append(&history, true)?;
                fsio::append(&mut f, &history, b"\n")?;
                files.warnings.push(format!(
                    "{} ended with a partial line that art_metrics did not write (another \
                     program's, or the file a link points to): it is kept, ended with a \
                     newline; readers skip it",
                    history.display()
                ));
            }
            None => {}
        }
        if let Some(kind) = folded.set_aside {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let journal =
                fsio::read_bytes_opt(&self.file(JOURNAL_FILE), false)?.unwrap_or_default();
            // A new file under a new name: an existing one (or a link planted there) is
            // never written through.
            let mut n = 0;
            let kept = loop {
                let suffix = if n == 0 {
                    String::new()
                } else {
                    format!(".{n}")
                };
                let kept = self.file(&format!("{JOURNAL_FILE}.{kind}-{secs}{suffix}"));
                match fsio::create_new(&kept, &journal) {
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                    Err(e) => return Err(fsio::io_err("cannot copy the journal to", &kept, e)),
                    Ok(()) => break kept,
                }
            };
            files
                .warnings
                .push(format!("the journal was kept as {}", kept.display()));
        }
        files.seq = folded.seq;
        files.history = None;
        if folded.journal_len == 0 {
            // Nothing to fold: state.json stays as it is (or absent).
            files.journal_len = 0;
            files.state_len = folded.state_bytes.as_ref().map_or(0, |b| b.len() as u64);
            files.base = journal::fingerprint(folded.state_bytes.as_deref());
            return Ok(());
        }
        self.write_state_locked(files, &mut folded.state)?;
        Ok(())
    }

    /// Folds (as a reader) and writes the result, when this process is the writer.
    fn compact_locked(&self, files: &mut Files) -> CoreResult<Tip> {
        let mut folded = self.fold(files)?;
        self.write_state_locked(files, &mut folded.state)?;
        Ok(folded.tip())
    }

    /// Writes `state` with our coverage key atomically, then restarts the journal (in that
    /// order: entries a kill leaves in between are covered by the sequence number).
    fn write_state_locked(
        &self,
        files: &mut Files,
        state: &mut Map<String, Value>,
    ) -> CoreResult<String> {
        state::set_covered_seq(state, files.seq);
        let text = state::write(state)?;
        fsio::atomic_write(&self.file(STATE_FILE), text.as_bytes())?;
        fsio::truncate_path(&self.file(JOURNAL_FILE), 0)?;
        files.journal_len = 0;
        files.prev_ids.clear();
        files.state_len = text.len() as u64;
        files.base = journal::fingerprint(Some(text.as_bytes()));
        Ok(text)
    }

    /// Reads the directory and folds the journal in memory; modifies no file.
    fn fold(&self, files: &mut Files) -> CoreResult<Folded> {
        let folded = fold_dir(&self.shared.dir)?;
        for w in &folded.warnings {
            if files.warned.insert(w.clone()) {
                files.warnings.push(w.clone());
            }
        }
        Ok(folded)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let mut files = self.shared.files.lock();
        files.synced.remove(&self.id);
        files.writers.remove(&self.id);
    }
}

/// A run directory read and folded in memory.
#[derive(Debug)]
struct Folded {
    state: Map<String, Value>,
    state_bytes: Option<Vec<u8>>,
    journal_len: usize,
    seq: u64,
    history: fsio::HistoryTail,
    /// `Some("corrupt" | "stale")` when the writer must keep the journal aside.
    set_aside: Option<&'static str>,
    /// History's torn last line is the row of the journal's last entry, whose append a
    /// crash cut short: it starts where that entry says its row starts.
    torn_row_is_ours: bool,
    warnings: Vec<String>,
}

impl Folded {
    fn tip(&self) -> Tip {
        let totals = self
            .state
            .get(BUILDER_STATE_KEY)
            .map(|v| journal::fingerprint(Some(v.to_string().as_bytes())))
            .unwrap_or_default();
        Tip {
            seq: self.seq,
            totals,
        }
    }
}

/// Reads state.json, the journal and history's tail consistently (state.json unchanged
/// around the reads, so no compaction came between) and folds them.
fn fold_dir(dir: &Path) -> CoreResult<Folded> {
    let state_path = dir.join(STATE_FILE);
    let journal_path = dir.join(JOURNAL_FILE);
    let (state_bytes, journal_bytes, history) = {
        let mut attempt = 0;
        loop {
            let before = fsio::read_bytes_opt(&state_path, true)?;
            let journal = fsio::read_bytes_opt(&journal_path, false)?.unwrap_or_default();
            let history = fsio::history_tail(&dir.join(HISTORY_FILE), TAIL_ROWS)?;
            let after = fsio::read_bytes_opt(&state_path, true)?;
            attempt += 1;
            if before == after || attempt >= 100 {
                break (after, journal, history);
            }
        }
    };
    let what = state_path.display().to_string();
    let mut state = match &state_bytes {
        Some(b) => state::parse(b, &what).map_err(|e| {
            // We never tear state.json, but openpipe-art can when killed mid-write.
            CoreError::Corrupt(format!(
                "{e}. It may have been torn by a crash of another writer; move it away to \
                 restart the running totals from zero"
            ))
        })?,
        None => Map::new(),
    };
    let covered = state::covered_seq(&state);
    let parsed = journal::parse(&journal_bytes);
    let pending: Vec<&JournalEntry> = parsed.entries.iter().filter(|e| e.seq > covered).collect();
    let mut out = Folded {
        state: Map::new(),
        state_bytes: None,
        journal_len: journal_bytes.len(),
        seq: covered,
        torn_row_is_ours: false,
        history,
        set_aside: None,
        warnings: Vec::new(),
    };
    let rows: Vec<String> = out
        .history
        .last_rows
        .iter()
        .map(|r| journal::row_hash(r))
        .collect();
    out.torn_row_is_ours = out.history.unterminated == Some(false)
        && parsed
            .entries
            .last()
            .is_some_and(|e| e.at == Some(out.history.terminated_len) && !rows.contains(&e.row));
    let jname = journal_path.display();
    let base = journal::fingerprint(state_bytes.as_deref());
    if !pending.is_empty() && parsed.base.as_deref() != Some(base.as_str()) {
        out.warnings.push(format!(
            "{what} was replaced by another program (openpipe-art?) since art_metrics last \
             wrote it: the {} entries of {jname} are not replayed over it",
            pending.len()
        ));
        out.set_aside = Some("stale");
    } else {
        if !parsed.bad_lines.is_empty() {
            let lines: Vec<String> = parsed
                .bad_lines
                .iter()
                .map(|(l, _)| l.to_string())
                .collect();
            out.warnings.push(format!(
                "{jname}: line(s) {} fail their checksum and were skipped: the totals only \
                 they changed may be missing; {}",
                lines.join(", "),
                lost_ids_notice(covered, &pending)
            ));
            out.set_aside = Some("corrupt");
        }
        let mut comp = match state::ours(&mut state).remove(state::COMPENSATION_KEY) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let mut folder = journal::StateFolder::new(&mut state, &mut comp);
        for (i, entry) in pending.iter().enumerate() {
            // Only the last entry can be uncertain: its row may not have been written.
            if i + 1 == pending.len() && !rows.contains(&entry.row) {
                // Its previous entry is committed all the same (this one was written after
                // that one's row), and may be the lost one.
                folder.apply_prev_ids(entry);
                break;
            }
            folder.apply(entry);
            out.seq = entry.seq;
        }
        folder.finish();
        if !comp.is_empty() {
            state::ours(&mut state).insert(state::COMPENSATION_KEY.into(), Value::Object(comp));
        }
    }
    if state
        .get(COVERAGE_KEY)
        .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
    {
        state.remove(COVERAGE_KEY);
    }
    if state_bytes.is_none() && state.get(BUILDER_STATE_KEY).is_some_and(is_empty_builder) {
        state.remove(BUILDER_STATE_KEY);
    }
    let (_, non_finite) = state::builder_totals(&state, &what)?;
    if !non_finite.is_empty() {
        out.warnings
            .push(crate::notices::non_finite_totals(&what, &non_finite));
    }
    out.state = state;
    out.state_bytes = state_bytes;
    Ok(out)
}

/// What skipped journal entries did to the scenario ids: each entry repeats the ids its
/// previous entry saw first, so a lost entry followed by a valid one loses none; of several
/// consecutive lost entries, all but the last lose theirs (and the last too when the valid
/// entry after them predates the repeat).
fn lost_ids_notice(covered: u64, pending: &[&JournalEntry]) -> String {
    let mut lost: Vec<String> = Vec::new();
    let mut prev = covered;
    for e in pending {
        let restored = u64::from(e.prev_new_scenario_ids.is_some());
        if e.seq > prev.saturating_add(1 + restored) {
            let (from, to) = (prev + 1, e.seq - 1 - restored);
            lost.push(if from == to {
                from.to_string()
            } else {
                format!("{from}-{to}")
            });
        }
        prev = prev.max(e.seq);
    }
    if lost.is_empty() {
        "the scenario ids they saw first were restored from the entries after them".into()
    } else {
        format!(
            "the scenario ids first seen by the rows of entries (seq) {} are lost (no later \
             entry repeats them)",
            lost.join(", ")
        )
    }
}

fn is_empty_builder(v: &Value) -> bool {
    v.get("cum_state")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
        && v.get("unique_scenario_ids")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
}

impl RunWriter<'_> {
    /// True when the next row must carry a full snapshot of the totals (after
    /// `overwrite_state` or `merge_state`).
    pub fn snapshot_pending(&self) -> bool {
        self.files.snapshot_next
    }

    /// Appends one history row (`line` ends with a newline) after its journal entry.
    /// `reset` marks `changes` as a full snapshot. Folds the journal into state.json when it
    /// has outgrown it.
    pub fn append(&mut self, line: &str, changes: TotalsChanges, reset: bool) -> CoreResult<()> {
        if self.append_unfolded(line, changes, reset)? {
            // The row is saved (the journal holds its totals); folding them into state.json
            // can wait for a later row if the disk is full now.
            let _ = self.run.compact_locked(&mut self.files);
        }
        Ok(())
    }

    /// [`append`](Self::append) without the fold: returns whether the journal has outgrown
    /// state.json, for a caller that folds it with [`RunDir::fold_if_due`] elsewhere (the
    /// fold rewrites and fsyncs state.json; the append is two page-cache writes).
    pub fn append_unfolded(
        &mut self,
        line: &str,
        changes: TotalsChanges,
        reset: bool,
    ) -> CoreResult<bool> {
        let history_path = self.run.file(HISTORY_FILE);
        self.open_history(&history_path)?;
        let (history, _) = self.files.history.as_ref().expect("opened above");
        // The actual end of the file, to cut back to if the append fails half-way.
        let start = history
            .metadata()
            .map_err(|e| fsio::io_err("cannot stat", &history_path, e))?
            .len();
        let journal_len = self.files.journal_len;
        let seq = self.files.seq + 1;
        if let Err(e) = self.append_row(seq, line, start, changes, reset) {
            // A full disk can take half a line. Cut both files back to where they were
            // (shrinking needs no space), so that the next row follows whole rows only.
            if let Some((h, _)) = &self.files.history {
                let _ = fsio::truncate(h, &history_path, start);
            }
            let _ = fsio::truncate_path(&self.run.file(JOURNAL_FILE), journal_len);
            self.files.journal_len = journal_len;
            return Err(e);
        }
        self.files.seq = seq;
        let id = self.run.id;
        if let Some(tip) = self.files.synced.get_mut(&id) {
            tip.seq = seq;
        }
        self.files.snapshot_next = false;
        Ok(self.run.fold_due(&self.files))
    }

    /// Opens history.jsonl, or reopens it when the path no longer names the file we hold
    /// (rotated, deleted or replaced).
    fn open_history(&mut self, path: &Path) -> CoreResult<()> {
        let current = std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
        if let Some((_, id)) = &self.files.history
            && current == Some(*id)
        {
            return Ok(());
        }
        std::fs::create_dir_all(&self.run.shared.dir)
            .map_err(|e| fsio::io_err("cannot create directory", &self.run.shared.dir, e))?;
        let f = fsio::open_append(path, true)?;
        let m = f
            .metadata()
            .map_err(|e| fsio::io_err("cannot stat", path, e))?;
        self.files.history = Some((f, (m.dev(), m.ino())));
        Ok(())
    }

    /// The journal entry (header first on a fresh journal), then the row.
    fn append_row(
        &mut self,
        seq: u64,
        line: &str,
        at: u64,
        changes: TotalsChanges,
        reset: bool,
    ) -> CoreResult<()> {
        let journal_path = self.run.file(JOURNAL_FILE);
        let mut entry_line = String::new();
        if self.files.journal_len == 0 {
            entry_line = journal::header_line(&self.files.base);
        }
        let prev_ids = std::mem::take(&mut self.files.prev_ids);
        let entry = JournalEntry::new(seq, line, at, changes, reset, prev_ids);
        entry_line.push_str(&entry.to_line());
        let appended = self.append_lines(&journal_path, &entry_line, line);
        // The next entry repeats this one's ids; after a failure, the previous entry's again.
        self.files.prev_ids = match appended {
            Ok(()) => entry.new_scenario_ids,
            Err(_) => entry.prev_new_scenario_ids.unwrap_or_default(),
        };
        appended
    }

    fn append_lines(
        &mut self,
        journal_path: &Path,
        entry_line: &str,
        line: &str,
    ) -> CoreResult<()> {
        if self.files.journal.is_none() || self.files.journal_len == 0 {
            self.files.journal = Some(fsio::open_append(journal_path, false)?);
        }
        let journal = self.files.journal.as_mut().expect("opened above");
        fsio::append(journal, journal_path, entry_line.as_bytes())?;
        self.files.journal_len += entry_line.len() as u64;
        let history_path = self.run.file(HISTORY_FILE);
        let (history, _) = self.files.history.as_mut().expect("opened by append");
        fsio::append(history, &history_path, line.as_bytes())
    }
}

#[cfg(test)]
mod tests;
