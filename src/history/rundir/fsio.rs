//! The three file operations crash safety rests on: whole-line appends, torn-tail repair
//! and atomic replacement.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
#[cfg(feature = "test-hooks")]
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{CoreError, CoreResult};

/// Wraps an I/O error with what we were doing and to which file.
pub fn io_err(what: &str, path: &Path, err: std::io::Error) -> CoreError {
    CoreError::Io(format!("{what} {}: {err}", path.display()))
}

/// The length of `path`, or 0 when it does not exist.
pub fn file_len(path: &Path) -> CoreResult<u64> {
    match fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io_err("cannot stat", path, e)),
    }
}

/// Cuts `path` back to its last newline, dropping a line a crash left half-written.
/// Returns the new length (0 for a missing file).
pub fn repair_torn_tail(path: &Path) -> CoreResult<u64> {
    let len = file_len(path)?;
    if len == 0 {
        return Ok(0);
    }
    // Read-only until there is something to cut: a run directory on a read-only mount
    // can still be loaded.
    let mut f = File::open(path).map_err(|e| io_err("cannot open", path, e))?;
    // Scan backwards in blocks for the last '\n'; a complete file ends with one.
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        f.seek(SeekFrom::Start(start))
            .and_then(|_| f.read_exact(chunk))
            .map_err(|e| io_err("cannot read", path, e))?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep != len {
                truncate_path(path, keep)?;
            }
            return Ok(keep);
        }
        if start == 0 {
            truncate_path(path, 0)?;
            return Ok(0);
        }
        end = start;
    }
}

/// Truncates an open file to `len` bytes.
pub fn truncate(f: &File, path: &Path, len: u64) -> CoreResult<()> {
    f.set_len(len)
        .map_err(|e| io_err("cannot truncate", path, e))
}

/// Truncates `path` to `len` bytes if it is longer.
pub fn truncate_path(path: &Path, len: u64) -> CoreResult<()> {
    if file_len(path)? <= len {
        return Ok(());
    }
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_err("cannot open", path, e))?;
    truncate(&f, path, len)
}

/// Opens `path` for appending, creating it.
pub fn open_append(path: &Path) -> CoreResult<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io_err("cannot open", path, e))
}

/// Test hook (cargo feature `test-hooks`, which only test builds enable): how many of the
/// next appends fail, and with which errno.
#[cfg(feature = "test-hooks")]
static FAIL_APPENDS: AtomicU64 = AtomicU64::new(0);

/// Makes the next `count` appends write half their bytes and then fail with `errno` (for
/// example ENOSPC), as on a full disk. For tests where mounting a small filesystem is not
/// permitted; the real case is tested on a size-limited tmpfs where it is.
#[cfg(feature = "test-hooks")]
pub fn fail_next_appends(count: u32, errno: i32) {
    FAIL_APPENDS.store(
        (u64::from(count) << 32) | u64::from(errno as u32),
        Ordering::SeqCst,
    );
}

#[cfg(feature = "test-hooks")]
fn injected_failure() -> Option<std::io::Error> {
    let v = FAIL_APPENDS.load(Ordering::Relaxed);
    if v >> 32 == 0 {
        return None;
    }
    FAIL_APPENDS.store(v - (1 << 32), Ordering::SeqCst);
    Some(std::io::Error::from_raw_os_error(v as u32 as i32))
}

/// Without the test hooks, no append is made to fail (and none pays for a check).
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
fn injected_failure() -> Option<std::io::Error> {
    None
}

/// Appends `bytes` with one `write_all` on an `O_APPEND` handle: a kill leaves either
/// nothing, the whole line, or a torn tail that [`repair_torn_tail`] removes.
pub fn append(f: &mut File, path: &Path, bytes: &[u8]) -> CoreResult<()> {
    if let Some(e) = injected_failure() {
        let _ = f.write_all(&bytes[..bytes.len() / 2]);
        return Err(io_err("cannot append to", path, e));
    }
    f.write_all(bytes)
        .map_err(|e| io_err("cannot append to", path, e))
}

/// Replaces `path` with `bytes` atomically: a sibling temporary file is written and
/// fsynced, renamed over `path`, and the directory fsynced, so readers (and a run restarted
/// after a crash) see either the old content or the new, never a mix.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> CoreResult<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| io_err("cannot create directory", dir, e))?;
    let name = path
        .file_name()
        .map_or("state".into(), |n| n.to_string_lossy());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(|e| io_err("cannot create", &tmp, e))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| io_err("cannot write", &tmp, e))?;
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

/// Removes temporary files [`atomic_write`] left behind when a process was killed mid-write.
pub fn remove_stale_temp_files(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Reads a whole file as UTF-8, `None` when it does not exist.
pub fn read_opt(path: &Path) -> CoreResult<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| CoreError::Corrupt(format!("{} is not UTF-8", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("cannot read", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_tail_is_cut_to_the_last_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.jsonl");
        fs::write(&p, b"{\"a\": 1}\n{\"b\": 2}\n{\"c\"").unwrap();
        assert_eq!(repair_torn_tail(&p).unwrap(), 18);
        assert_eq!(fs::read(&p).unwrap(), b"{\"a\": 1}\n{\"b\": 2}\n");
        fs::write(&p, b"no newline at all").unwrap();
        assert_eq!(repair_torn_tail(&p).unwrap(), 0);
        assert_eq!(repair_torn_tail(&dir.path().join("missing")).unwrap(), 0);
        let big = format!("{}\n{}", "x".repeat(100_000), "y".repeat(70_000));
        fs::write(&p, big).unwrap();
        assert_eq!(repair_torn_tail(&p).unwrap(), 100_001);
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/state.json");
        atomic_write(&p, b"{}").unwrap();
        atomic_write(&p, b"{\"x\": 1}").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"{\"x\": 1}");
        assert_eq!(fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
        fs::write(p.with_file_name(".state.json.tmp.999"), b"{").unwrap();
        remove_stale_temp_files(p.parent().unwrap(), "state.json");
        assert_eq!(fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }
}
