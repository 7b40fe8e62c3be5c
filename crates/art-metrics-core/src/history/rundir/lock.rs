//! The one-writer lock: `flock(LOCK_EX | LOCK_NB)` on `<run>/.art_metrics.lock`, which holds
//! the writer's pid so that a refused writer can name it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::fsio::io_err;
use crate::error::{CoreError, CoreResult};

/// The lock file's name inside the run directory.
pub const LOCK_FILE: &str = ".art_metrics.lock";

/// A held writer lock; released when dropped (or when the process exits).
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
    /// The process that took it: a forked child inherits the descriptor (flock locks belong
    /// to it) but is not the writer.
    pid: u32,
}

impl WriterLock {
    /// Takes the lock on `dir` (created if needed), or says who holds it.
    pub fn acquire(dir: &Path) -> CoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(|e| io_err("cannot create directory", dir, e))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            // Never through a link: the pid would overwrite whatever it points to.
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| io_err("cannot open", &path, e))?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(io_err("cannot lock", &path, err));
            }
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { "unknown" } else { holder };
            return Err(CoreError::Io(format!(
                "run directory {} is being written by another process (pid {holder}); one \
                 process writes a run at a time: stop it, or use another run name. Reading \
                 (read_state(), summary) works meanwhile",
                dir.display()
            )));
        }
        let pid = std::process::id();
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.to_string().as_bytes()));
        Ok(WriterLock { _file: file, pid })
    }

    /// False in a forked child: the parent is the writer.
    pub fn held_here(&self) -> bool {
        self.pid == std::process::id()
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }
}
