//! The three file operations crash safety rests on: whole-line appends, torn-tail repair
//! and atomic replacement.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{CoreError, CoreResult};

/// Wraps an I/O error with what we were doing and to which file; opening a symbolic link
/// where the library follows none (`O_NOFOLLOW` gives `ELOOP`) says so.
pub fn io_err(what: &str, path: &Path, err: std::io::Error) -> CoreError {
    if err.raw_os_error() == Some(libc::ELOOP) {
        return CoreError::Io(format!(
            "{} is a symbolic link: art_metrics writes its own files of a run directory \
             (the journal, the lock, temporary files) only as plain files, never through a \
             link; remove the link",
            path.display()
        ));
    }
    CoreError::Io(format!("{what} {}: {err}", path.display()))
}

/// An error unless `path` (followed if a link) is a regular file or absent: a reader of a
/// FIFO, a device or `/dev/zero` would block or read forever. Returns whether it exists.
pub fn check_regular(path: &Path) -> CoreResult<bool> {
    match fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(true),
        Ok(_) => Err(CoreError::Io(format!(
            "{} is not a regular file (a device, FIFO or directory): art_metrics reads and \
             writes a run's files only as regular files",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("cannot stat", path, e)),
    }
}

/// The length of `path`, or 0 when it does not exist.
pub fn file_len(path: &Path) -> CoreResult<u64> {
    match fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io_err("cannot stat", path, e)),
    }
}

/// Truncates an open file to `len` bytes.
pub fn truncate(f: &File, path: &Path, len: u64) -> CoreResult<()> {
    f.set_len(len)
        .map_err(|e| io_err("cannot truncate", path, e))
}

/// Truncates `path`, one of the library's own files, to `len` bytes if it is longer;
/// never through a symbolic link.
pub fn truncate_path(path: &Path, len: u64) -> CoreResult<()> {
    let f = match OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("cannot open", path, e)),
    };
    let current = f
        .metadata()
        .map_err(|e| io_err("cannot stat", path, e))?
        .len();
    if current <= len {
        return Ok(());
    }
    truncate(&f, path, len)
}

/// Opens `path` for appending, creating it. `follow`: whether a symbolic link at `path` is
/// written through (history.jsonl may be a link, the journal may not).
pub fn open_append(path: &Path, follow: bool) -> CoreResult<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    if !follow {
        options.custom_flags(libc::O_NOFOLLOW);
    }
    if follow {
        check_regular(path)?;
    }
    let f = options
        .open(path)
        .map_err(|e| io_err("cannot open", path, e))?;
    let m = f.metadata().map_err(|e| io_err("cannot stat", path, e))?;
    if !m.is_file() {
        return Err(CoreError::Io(format!(
            "{} is not a regular file: art_metrics appends only to regular files",
            path.display()
        )));
    }
    Ok(f)
}

/// Creates `path` exclusively (`O_EXCL`: never an existing file, never through a link)
/// and writes `bytes` to it, fsynced.
pub fn create_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Test hook (cargo feature `test-hooks`, which only test builds enable): how many of the
/// next writes fail, with which errno, and (for tests that run beside others) only those
/// under which directory.
#[cfg(feature = "test-hooks")]
static FAIL_WRITES: parking_lot::Mutex<(u32, i32, Option<std::path::PathBuf>)> =
    parking_lot::Mutex::new((0, 0, None));

/// Makes the next `count` writes fail with `errno` (for example ENOSPC), as on a full disk:
/// an append writes half its bytes first, a state.json replacement leaves it as it was. For
/// tests where mounting a small filesystem is not permitted; the real case is tested on a
/// size-limited tmpfs where it is.
#[cfg(feature = "test-hooks")]
pub fn fail_next_appends(count: u32, errno: i32) {
    *FAIL_WRITES.lock() = (count, errno, None);
}

/// As [`fail_next_appends`], for writes to files under `dir` only.
#[cfg(feature = "test-hooks")]
pub fn fail_next_writes_under(dir: &Path, count: u32, errno: i32) {
    *FAIL_WRITES.lock() = (count, errno, Some(dir.to_path_buf()));
}

#[cfg(feature = "test-hooks")]
fn injected_failure(path: &Path) -> Option<std::io::Error> {
    let mut hook = FAIL_WRITES.lock();
    let (count, errno, dir) = &mut *hook;
    if *count == 0 || dir.as_ref().is_some_and(|d| !path.starts_with(d)) {
        return None;
    }
    *count -= 1;
    Some(std::io::Error::from_raw_os_error(*errno))
}

/// Without the test hooks, no append is made to fail (and none pays for a check).
#[cfg(not(feature = "test-hooks"))]
#[inline]
fn injected_failure(_path: &Path) -> Option<std::io::Error> {
    None
}

/// Appends `bytes` with one `write_all` on an `O_APPEND` handle: a kill leaves either
/// nothing, the whole line, or a torn tail that [`repair_torn_tail`] removes.
pub fn append(f: &mut File, path: &Path, bytes: &[u8]) -> CoreResult<()> {
    if let Some(e) = injected_failure(path) {
        let _ = f.write_all(&bytes[..bytes.len() / 2]);
        return Err(io_err("cannot append to", path, e));
    }
    f.write_all(bytes)
        .map_err(|e| io_err("cannot append to", path, e))
}

/// Replaces `path` with `bytes` atomically: a sibling temporary file is written and
/// fsynced, renamed over `path`, and the directory fsynced, so readers (and a run restarted
/// after a crash) see either the old content or the new, never a mix. The temporary name
/// holds the pid and a per-process counter, so no two writers share one.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> CoreResult<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| io_err("cannot create directory", dir, e))?;
    let name = path
        .file_name()
        .map_or("state".into(), |n| n.to_string_lossy());
    // A file already at the temporary name (a planted link, a leftover) is never opened:
    // the next name is tried.
    let mut attempts = 0;
    let (tmp, created) = loop {
        attempts += 1;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp.{}.{n}", std::process::id()));
        if let Some(e) = injected_failure(path) {
            return Err(io_err("cannot write", &tmp, e));
        }
        match create_new(&tmp, bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 1000 => {}
            r => break (tmp, r),
        }
    };
    let result = (|| {
        created.map_err(|e| io_err("cannot write", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| io_err("cannot replace", path, e))?;
        // The rename is durable only once the directory entry is.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Whether process `pid` exists (on this machine).
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Removes temporary files [`atomic_write`] left behind when a process was killed
/// mid-write; only those whose process is gone (another writer's live file stays).
pub fn remove_stale_temp_files(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(rest) = file
            .to_string_lossy()
            .strip_prefix(&prefix)
            .map(str::to_owned)
        else {
            continue;
        };
        let pid = rest.split('.').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| p != std::process::id() && !process_alive(p)) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Reads a whole regular file, `None` when it does not exist. `follow`: whether a
/// symbolic link at `path` is read through (state.json may be a link, the journal may not).
pub fn read_bytes_opt(path: &Path, follow: bool) -> CoreResult<Option<Vec<u8>>> {
    let mut options = OpenOptions::new();
    options.read(true);
    if !follow {
        options.custom_flags(libc::O_NOFOLLOW);
    }
    // Opening a FIFO for reading would block: only a regular file is opened.
    if follow && !check_regular(path)? {
        return Ok(None);
    }
    let mut f = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("cannot read", path, e)),
    };
    let m = f.metadata().map_err(|e| io_err("cannot stat", path, e))?;
    if !m.is_file() {
        return Err(CoreError::Io(format!(
            "{} is not a regular file: art_metrics reads only regular files",
            path.display()
        )));
    }
    let mut bytes = Vec::with_capacity(m.len() as usize);
    f.read_to_end(&mut bytes)
        .map_err(|e| io_err("cannot read", path, e))?;
    Ok(Some(bytes))
}

/// Reads a whole file as UTF-8, `None` when it does not exist.
pub fn read_opt(path: &Path) -> CoreResult<Option<String>> {
    match read_bytes_opt(path, true)? {
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| CoreError::Corrupt(format!("{} is not UTF-8", path.display()))),
        None => Ok(None),
    }
}

/// How history.jsonl ends.
#[derive(Debug, Default, PartialEq)]
pub struct HistoryTail {
    /// The last complete rows (at most the number asked for), last one last; a final row
    /// without its newline counts when it is a whole JSON object.
    pub last_rows: Vec<Vec<u8>>,
    /// The file's length.
    pub len: u64,
    /// A final line without a newline: `Some(true)` when it is a whole JSON object (a row
    /// someone wrote without the newline: kept, the newline is added), `Some(false)` when
    /// it is torn (cut).
    pub unterminated: Option<bool>,
    /// Where the last newline ends (the length without the unterminated line).
    pub terminated_len: u64,
}

/// Reads the end of `path` (following a symlink): up to `count` last rows. An error when
/// `path` is not a regular file.
pub fn history_tail(path: &Path, count: usize) -> CoreResult<HistoryTail> {
    if !check_regular(path)? {
        return Ok(HistoryTail::default());
    }
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HistoryTail::default()),
        Err(e) => return Err(io_err("cannot open", path, e)),
    };
    let len = f
        .metadata()
        .map_err(|e| io_err("cannot stat", path, e))?
        .len();
    // Read backwards until `count` + 1 newlines are in the buffer (or the file starts).
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    let mut block = 64 * 1024u64;
    while start > 0 && memchr::memchr_iter(b'\n', &buf).count() <= count {
        let from = start.saturating_sub(block);
        let mut chunk = vec![0u8; (start - from) as usize];
        f.seek(SeekFrom::Start(from))
            .and_then(|_| f.read_exact(&mut chunk))
            .map_err(|e| io_err("cannot read", path, e))?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        start = from;
        block *= 2;
    }
    let mut tail = HistoryTail {
        len,
        terminated_len: len,
        ..HistoryTail::default()
    };
    let mut lines: Vec<&[u8]> = buf.split_inclusive(|b| *b == b'\n').collect();
    if let Some(last) = lines.last().filter(|l| !l.ends_with(b"\n")) {
        let whole = matches!(
            serde_json::from_slice::<serde_json::Value>(last),
            Ok(serde_json::Value::Object(_))
        );
        tail.unterminated = Some(whole);
        tail.terminated_len = len - last.len() as u64;
        if !whole {
            lines.pop();
        }
    }
    // The first line read may be partial when the file did not start there.
    let skip = usize::from(start > 0);
    let from = lines.len().saturating_sub(count).max(skip.min(lines.len()));
    tail.last_rows = lines[from..].iter().map(|l| l.to_vec()).collect();
    Ok(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_tail_finds_rows_torn_and_unterminated_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.jsonl");
        fs::write(&p, b"{\"a\": 1}\n{\"b\": 2}\n{\"c\"").unwrap();
        let t = history_tail(&p, 4).unwrap();
        assert_eq!(t.unterminated, Some(false));
        assert_eq!(t.terminated_len, 18);
        assert_eq!(
            t.last_rows,
            [b"{\"a\": 1}\n".to_vec(), b"{\"b\": 2}\n".to_vec()]
        );
        fs::write(&p, b"{\"a\": 1}\n{\"b\": 2}").unwrap();
        let t = history_tail(&p, 1).unwrap();
        assert_eq!(t.unterminated, Some(true));
        assert_eq!(t.last_rows, [b"{\"b\": 2}".to_vec()]);
        assert_eq!(history_tail(&dir.path().join("missing"), 3).unwrap().len, 0);
        let big = format!("{}\n{}\n", "x".repeat(100_000), "y".repeat(70_000));
        fs::write(&p, big).unwrap();
        let t = history_tail(&p, 1).unwrap();
        assert_eq!(t.last_rows[0].len(), 70_001);
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/state.json");
        atomic_write(&p, b"{}").unwrap();
        atomic_write(&p, b"{\"x\": 1}").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"{\"x\": 1}");
        assert_eq!(fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
        // A dead process's temporary file goes; a live one's stays.
        let dead = p.with_file_name(format!(".state.json.tmp.{}.0", i32::MAX - 1));
        let live = p.with_file_name(".state.json.tmp.1.0");
        fs::write(&dead, b"{").unwrap();
        fs::write(&live, b"{").unwrap();
        remove_stale_temp_files(p.parent().unwrap(), "state.json");
        assert!(!dead.exists() && live.exists());
    }
}
