//! `fork()` safety: the child repairs every core lock a vanished thread held.
//!
//! A thread that holds a lock when another thread forks leaves the child a lock nobody
//! will release. Holding every lock across the fork (taking them in a before-fork hook)
//! deadlocks the parent instead: Python runs other at-fork hooks between ours and the
//! fork, the GIL can pass to a thread that then blocks on one of our locks while holding
//! it, and the forking thread never gets the GIL back. So nothing is taken before the
//! fork; in the child (single-threaded), [`after_fork_in_child`] visits every registered
//! object: a lock found held was held by a thread that does not exist in the child, which
//! may have been half-way through changing what it guards. That lock is released and what
//! it guards is replaced by its empty value (the old value is leaked, never read or
//! dropped). Everything else is the parent's state, consistent, since every change happens
//! under a lock.
//!
//! Semantics for a child: it gets a copy of every builder and its totals; where a fork
//! landed while another thread was inside the core, that one run's pending values (or
//! totals, or prices) start empty in the child, and [`after_fork_in_child`] counts them.

use std::sync::{Arc, Weak};

use parking_lot::Mutex;

/// Something holding core locks.
pub trait ForkLocks: Send + Sync {
    /// In a forked child: releases each lock a vanished thread held and empties what it
    /// guards. Returns how many locks were found held.
    ///
    /// # Safety
    /// Only in a child right after `fork()`, before any other thread exists.
    unsafe fn repair_in_child(&self) -> usize;
}

static LOCKABLES: Mutex<Vec<Weak<dyn ForkLocks>>> = Mutex::new(Vec::new());

/// Adds `item` to the objects repaired in a forked child.
pub fn register(item: &Arc<dyn ForkLocks>) {
    let mut all = LOCKABLES.lock();
    if all.len() >= 64 && all.len().is_power_of_two() {
        all.retain(|w| w.strong_count() > 0);
    }
    all.push(Arc::downgrade(item));
}

/// Repairs `lock` in a forked child (see the module docs); true when it was held.
///
/// # Safety
/// Only in a child right after `fork()`, before any other thread exists.
pub unsafe fn repair_mutex<T: Default>(lock: &Mutex<T>) -> bool {
    if !lock.is_locked() {
        return false;
    }
    // SAFETY: the holder does not exist in this process; nobody else runs.
    unsafe { lock.force_unlock() };
    std::mem::forget(std::mem::take(&mut *lock.lock()));
    true
}

/// Repairs a read-write lock in a forked child; true when it was held for writing.
///
/// # Safety
/// As [`repair_mutex`].
pub unsafe fn repair_rwlock<T: Default>(lock: &parking_lot::RwLock<T>) -> bool {
    if lock.is_locked_exclusive() {
        // SAFETY: as in repair_mutex.
        unsafe { lock.force_unlock_write() };
        std::mem::forget(std::mem::take(&mut *lock.write()));
        return true;
    }
    while lock.is_locked() {
        // Readers change nothing: only the count is left to undo.
        // SAFETY: as in repair_mutex.
        unsafe { lock.force_unlock_read() };
    }
    false
}

/// Repairs the registry and every registered object in a forked child; `extra` repairs
/// module-level locks. Returns how many locks were found held.
///
/// # Safety
/// Only in a child right after `fork()`, before any other thread exists.
pub unsafe fn after_fork_in_child(extra: &[&dyn Fn() -> bool]) -> usize {
    // SAFETY: forwarded from the caller.
    let mut held = usize::from(unsafe { repair_mutex(&LOCKABLES) });
    for f in extra {
        held += usize::from(f());
    }
    let items: Vec<Arc<dyn ForkLocks>> =
        LOCKABLES.lock().iter().filter_map(Weak::upgrade).collect();
    for item in &items {
        // SAFETY: forwarded from the caller.
        held += unsafe { item.repair_in_child() };
    }
    held
}
