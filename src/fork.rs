//! `fork()` safety: every lock of the core, taken before a fork and released after it.
//!
//! A thread that holds a lock when another thread forks leaves the child a lock nobody
//! will release. So the Python layer registers `os.register_at_fork` hooks that call
//! [`before_fork`] (take every registered lock, in the documented order) and
//! [`after_fork`] (release them, in the parent and in the child). The child then starts
//! from a consistent copy of every builder and run directory.
//!
//! Lock order (the order [`before_fork`] takes them, which no code path reverses): the
//! registry of lockables, the run-directory registry, each run directory's files, each
//! run's buffers, its totals, its prices, each train-step clock. `before_fork` runs with
//! the GIL held: no thread holds a core lock while waiting for the GIL, so every holder
//! can finish and release.

use std::sync::{Arc, Weak};

use parking_lot::Mutex;

/// Something holding core locks.
pub trait ForkLocks: Send + Sync {
    /// Takes every lock this object holds and keeps it (the guards are forgotten).
    fn lock_for_fork(&self);
    /// Releases what [`ForkLocks::lock_for_fork`] took.
    ///
    /// # Safety
    /// Only after `lock_for_fork` on the same object, once.
    unsafe fn unlock_after_fork(&self);
    /// Its rank in the lock order (lower first).
    fn fork_rank(&self) -> u8;
}

/// Ranks, in the order they are taken.
pub const RANK_RUN_DIR: u8 = 1;
pub const RANK_METRICS: u8 = 2;
pub const RANK_CLOCK: u8 = 3;

static LOCKABLES: Mutex<Vec<Weak<dyn ForkLocks>>> = Mutex::new(Vec::new());
/// What `before_fork` locked, to release after the fork.
static LOCKED: Mutex<Vec<Arc<dyn ForkLocks>>> = Mutex::new(Vec::new());

/// Adds `item` to the objects locked around a fork. Call with no other core lock held.
pub fn register(item: &Arc<dyn ForkLocks>) {
    let mut all = LOCKABLES.lock();
    if all.len() >= 64 && all.len().is_power_of_two() {
        all.retain(|w| w.strong_count() > 0);
    }
    all.push(Arc::downgrade(item));
}

/// Takes every registered lock (see the module docs). Pair with [`after_fork`].
pub fn before_fork(extra: &[&dyn Fn()]) {
    let registry = LOCKABLES.lock();
    let mut items: Vec<Arc<dyn ForkLocks>> = registry.iter().filter_map(Weak::upgrade).collect();
    items.sort_by_key(|i| i.fork_rank());
    std::mem::forget(registry);
    for f in extra {
        f();
    }
    for item in &items {
        item.lock_for_fork();
    }
    // LOCKED is only touched here and in after_fork, both on the forking thread.
    *LOCKED.lock() = items;
}

/// Releases what [`before_fork`] took, in the parent and in the child.
pub fn after_fork(extra: &[&dyn Fn()]) {
    let items = std::mem::take(&mut *LOCKED.lock());
    for item in items.iter().rev() {
        // SAFETY: before_fork locked exactly these.
        unsafe { item.unlock_after_fork() };
    }
    for f in extra {
        f();
    }
    // SAFETY: before_fork took this lock and forgot its guard.
    unsafe { LOCKABLES.force_unlock() };
    // Dropping the Arcs may run destructors: no lock is held any more.
    drop(items);
}
