//! Reading a run's history.jsonl into a [`StepTable`], one line at a time.
//!
//! Only reads: the file is opened read-only, never locked or rewritten, so it is safe on a
//! live run. Memory is the table's plus one line: the file is never held whole. What the
//! Python readers do, this does:
//! - a line that is not JSON, or JSON but not an object, is a [`Problem`] (its 1-based line
//!   number and what is wrong) and the other rows are read;
//! - blank lines are skipped (they still count in the line numbers);
//! - a last line without its newline is read when it is a complete object, else skipped
//!   without a word (a crash mid-write tears it);
//! - a line longer than [`MAX_LINE_BYTES`] is a problem, skipped without being held;
//! - a history.jsonl that is not a regular file (a FIFO, `/dev/zero`, a socket) is refused
//!   before anything is read: it could block or never end. A link to a regular file is read.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::jsonline::{Line, is_blank, parse_row};
use super::steps::StepTable;
use crate::error::{CoreError, CoreResult};

/// Longer lines are skipped as a problem.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// A line that gave no row.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// 1-based, counting blank lines.
    pub line: u64,
    /// `not JSON`, `not a JSON object (list)`, ...
    pub what: String,
}

fn open_regular(path: &Path) -> CoreResult<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    // Opening a FIFO for reading blocks until a writer comes; non-blocking, it does not,
    // and the check below refuses it. Reads of a regular file ignore the flag.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options
        .open(path)
        .map_err(|e| CoreError::Io(format!("cannot open {}: {e}", path.display())))?;
    let meta = file
        .metadata()
        .map_err(|e| CoreError::Io(format!("cannot stat {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(CoreError::Io(format!(
            "{} is not a regular file (refusing to read it)",
            path.display()
        )));
    }
    Ok(file)
}

fn add_line(table: &mut StepTable, line: &[u8], number: u64, problems: &mut Vec<Problem>) {
    if is_blank(line) {
        return;
    }
    let mut pairs = Vec::new();
    let what = match parse_row(line, &mut pairs) {
        Line::Object => {
            table.add_row(&pairs);
            return;
        }
        Line::NotObject(name) => format!("not a JSON object ({name})"),
        Line::Invalid => "not JSON".to_owned(),
    };
    problems.push(Problem { line: number, what });
}

/// Reads the run directory `dir` for `summary` and `report`: every row of its
/// history.jsonl into `table` (streamed), then the run's cost totals from its folded state
/// (state.json with the journal folded in memory: nothing is written), which hold whatever
/// became of history.jsonl. A run whose state cannot be read (none, or torn by another
/// program) keeps the totals its history wrote. Returns the lines that gave no row.
pub fn read_run(dir: &Path, table: &mut StepTable) -> CoreResult<Vec<Problem>> {
    let problems = read_history(&dir.join(crate::history::rundir::HISTORY_FILE), table)?;
    if let Ok((totals, _)) = crate::history::RunDir::new(dir).open() {
        table.use_folded_totals(&totals.cum_state);
    }
    Ok(problems)
}

/// Adds every row of the history file at `path` to `table`; returns the lines that gave
/// no row.
pub fn read_history(path: &Path, table: &mut StepTable) -> CoreResult<Vec<Problem>> {
    let file = open_regular(path)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let read_err =
        |e: std::io::Error| CoreError::Io(format!("cannot read {}: {e}", path.display()));
    let mut problems = Vec::new();
    let mut pending: Vec<u8> = Vec::new(); // the start of a line that spans buffer refills
    let mut too_long = false;
    let mut number = 0u64;
    loop {
        let buf = reader.fill_buf().map_err(read_err)?;
        if buf.is_empty() {
            break;
        }
        let Some(end) = memchr::memchr(b'\n', buf) else {
            let n = buf.len();
            if !too_long && pending.len() + n > MAX_LINE_BYTES {
                too_long = true;
                pending = Vec::new();
            } else if !too_long {
                pending.extend_from_slice(buf);
            }
            reader.consume(n);
            continue;
        };
        number += 1;
        if too_long || pending.len() + end > MAX_LINE_BYTES {
            let what = format!("longer than {} MiB, skipped unread", MAX_LINE_BYTES >> 20);
            problems.push(Problem { line: number, what });
        } else if pending.is_empty() {
            add_line(table, &buf[..end], number, &mut problems); // the common case: no copy
        } else {
            pending.extend_from_slice(&buf[..end]);
            add_line(table, &pending, number, &mut problems);
        }
        pending.clear();
        too_long = false;
        reader.consume(end + 1);
    }
    if !too_long && !is_blank(&pending) {
        let mut pairs = Vec::new();
        if parse_row(&pending, &mut pairs) == Line::Object {
            table.add_row(&pairs);
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> (StepTable, Vec<Problem>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        std::fs::write(&path, text).unwrap();
        let mut table = StepTable::new();
        let problems = read_history(&path, &mut table).unwrap();
        (table, problems)
    }

    /// Issue #21: one reader of a run: the totals are the run's folded state, whatever
    /// became of history.jsonl; a run without a state keeps its history's last totals.
    #[test]
    fn a_runs_totals_come_from_its_folded_state() {
        use crate::metrics::totals::TotalsChanges;
        let dir = tempfile::tempdir().unwrap();
        let run = crate::history::RunDir::new(dir.path());
        for (i, total) in [1.0, 3.0, 7.0].into_iter().enumerate() {
            let row = format!(
                "{{\"training_step\": {i}, \"costs/all\": 1.0, \"costs/cum/all\": {total}}}\n"
            );
            let changes = TotalsChanges {
                cum_state: vec![
                    ("costs/cum/all".into(), total),
                    ("costs/cum/train".into(), total),
                ],
                ..TotalsChanges::default()
            };
            run.writer().unwrap().append(&row, changes, false).unwrap();
        }
        run.close().unwrap(); // folded into state.json, the lock released
        // history.jsonl rotated away and restarted with one old row: its total is stale.
        let history = dir.path().join(crate::history::rundir::HISTORY_FILE);
        std::fs::write(&history, "{\"training_step\": 0, \"costs/cum/all\": 1.0}\n").unwrap();
        let mut table = StepTable::new();
        read_run(dir.path(), &mut table).unwrap();
        let totals: Vec<(&str, f64)> = table
            .view()
            .totals()
            .iter()
            .map(|(k, v)| (&k[..], *v))
            .collect();
        assert_eq!(totals, [("all", 7.0), ("train", 7.0)]);
        // No state: the history's own last totals.
        let bare = tempfile::tempdir().unwrap();
        std::fs::copy(&history, bare.path().join("history.jsonl")).unwrap();
        let mut table = StepTable::new();
        read_run(bare.path(), &mut table).unwrap();
        assert_eq!(table.view().totals().get("all"), Some(&1.0));
    }

    #[test]
    fn bad_lines_are_problems_and_the_rest_is_read() {
        let (mut table, problems) = read(
            b"{\"training_step\": 1, \"costs/all\": 1.0}\n\n{oops\n\"a string\"\n\xff\n\
              {\"training_step\": 2, \"costs/all\": 2.0}\n",
        );
        let lines: Vec<(u64, &str)> = problems.iter().map(|p| (p.line, &p.what[..])).collect();
        assert_eq!(
            lines,
            [
                (3, "not JSON"),
                (4, "not a JSON object (str)"),
                (5, "not JSON")
            ]
        );
        assert_eq!(table.rows(), 2);
        assert_eq!(table.view().len(), 2);
    }

    #[test]
    fn a_complete_last_line_counts_and_a_torn_one_is_skipped_quietly() {
        let (table, problems) = read(b"{\"step\": 1}\n{\"step\": 2}");
        assert_eq!((table.rows(), problems.len()), (2, 0));
        let (table, problems) = read(b"{\"step\": 1}\n{\"step\": 2, \"co");
        assert_eq!((table.rows(), problems.len()), (1, 0));
        let (table, problems) = read(b"{\"step\": 1}\n[1, 2]");
        assert_eq!((table.rows(), problems.len()), (1, 0));
    }

    #[test]
    fn lines_longer_than_the_buffer_are_read() {
        let mut line = b"{\"training_step\": 3, \"pad\": \"".to_vec();
        line.extend(std::iter::repeat_n(b'x', 3 << 20));
        line.extend_from_slice(b"\", \"train/reward\": 0.5}\n");
        let (mut table, problems) = read(&line);
        assert!(problems.is_empty());
        let view = table.view();
        assert_eq!(view.summary(0).train_reward, Some(0.5));
    }

    #[test]
    fn non_regular_files_are_refused() {
        let err = read_history(Path::new("/dev/zero"), &mut StepTable::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/dev/zero is not a regular file (refusing to read it)"
        );
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("history.jsonl");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(read_history(&fifo, &mut StepTable::new()).is_err()); // and does not block
        let missing = read_history(&dir.path().join("nope"), &mut StepTable::new());
        assert!(matches!(missing, Err(CoreError::Io(m)) if m.starts_with("cannot open")));
    }
}
