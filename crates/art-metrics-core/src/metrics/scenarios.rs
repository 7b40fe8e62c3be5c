//! A compact set of scenario ids.
//!
//! A run can see millions of scenario ids. A `HashSet<String>` spends about 70 bytes on each
//! (a 24-byte `String`, a heap block, table slack); this set keeps every id's bytes in one
//! arena and a table of 4-byte indices into it, about 30 bytes an id for 15-character ids.

use std::hash::{BuildHasher, RandomState};

const EMPTY: u32 = u32::MAX;

/// A set of strings stored back to back in one arena, found through an open-addressing table.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSet {
    /// Every id's bytes, back to back.
    arena: String,
    /// Where each id ends in `arena` (it starts where the previous one ends).
    ends: Vec<u32>,
    /// Linear-probing table of indices into `ends`; `EMPTY` marks a free slot. Length is a
    /// power of two, kept at most half full.
    table: Vec<u32>,
    hasher: RandomState,
}

impl ScenarioSet {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`th id, in insertion order.
    fn id(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.arena[start..self.ends[i] as usize]
    }

    /// The table slot holding `id`, or the free slot where it belongs.
    fn slot(&self, id: &str) -> (usize, bool) {
        let mask = self.table.len() - 1;
        let mut slot = (self.hasher.hash_one(id) as usize) & mask;
        loop {
            match self.table[slot] {
                EMPTY => return (slot, false),
                i if self.id(i as usize) == id => return (slot, true),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        !self.table.is_empty() && self.slot(id).1
    }

    /// Adds `id`; returns whether it was new.
    ///
    /// # Panics
    /// When the arena would pass 4 GiB of id bytes (u32 offsets).
    pub fn insert(&mut self, id: &str) -> bool {
        if (self.len() + 1) * 2 > self.table.len() {
            self.grow();
        }
        let (slot, found) = self.slot(id);
        if found {
            return false;
        }
        self.arena.push_str(id);
        let end = u32::try_from(self.arena.len()).expect("scenario ids exceed 4 GiB");
        self.table[slot] = self.ends.len() as u32;
        self.ends.push(end);
        true
    }

    /// Keeps the first `len` ids inserted and forgets the rest (a flush taken back). Rebuilds
    /// the table: O(ids), paid only when a save fails.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len() {
            return;
        }
        self.ends.truncate(len);
        self.arena
            .truncate(self.ends.last().map_or(0, |&e| e as usize));
        self.rebuild(self.table.len());
    }

    fn grow(&mut self) {
        self.rebuild((self.table.len() * 2).max(16));
    }

    fn rebuild(&mut self, capacity: usize) {
        self.table = vec![EMPTY; capacity];
        for i in 0..self.ends.len() {
            let (slot, _) = self.slot(self.id(i));
            self.table[slot] = i as u32;
        }
    }

    /// The ids, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.iter_from(0)
    }

    /// The ids inserted after the first `start`, in insertion order (O(1) to reach the start,
    /// unlike `iter().skip(start)`, which walks every id before it).
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &str> {
        (start.min(self.len())..self.len()).map(|i| self.id(i))
    }
}

impl<S: AsRef<str>> Extend<S> for ScenarioSet {
    fn extend<I: IntoIterator<Item = S>>(&mut self, ids: I) {
        for id in ids {
            self.insert(id.as_ref());
        }
    }
}

impl<S: AsRef<str>> FromIterator<S> for ScenarioSet {
    fn from_iter<I: IntoIterator<Item = S>>(ids: I) -> Self {
        let mut set = ScenarioSet::default();
        set.extend(ids);
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn insert_and_contains() {
        let mut s = ScenarioSet::default();
        assert!(!s.contains("a"));
        assert!(s.insert("a"));
        assert!(!s.insert("a"));
        assert!(s.insert(""));
        assert!(s.contains("") && s.contains("a") && !s.contains("b"));
        assert_eq!(s.iter().collect::<Vec<_>>(), ["a", ""]);
    }

    #[test]
    fn many_ids_survive_growth() {
        let s: ScenarioSet = (0..100_000).map(|i| format!("scenario-{i}")).collect();
        assert_eq!(s.len(), 100_000);
        assert!((0..100_000).all(|i| s.contains(&format!("scenario-{i}"))));
        assert!(!s.contains("scenario-100000"));
    }

    proptest! {
        #[test]
        fn behaves_like_a_hash_set(ids in proptest::collection::vec("[a-c]{0,3}", 0..200)) {
            let mut ours = ScenarioSet::default();
            let mut std_set = HashSet::new();
            for id in &ids {
                prop_assert_eq!(ours.insert(id), std_set.insert(id.clone()));
            }
            prop_assert_eq!(ours.len(), std_set.len());
            for id in &std_set {
                prop_assert!(ours.contains(id));
            }
        }
    }

    #[test]
    fn truncate_forgets_the_last_inserted() {
        let mut set: ScenarioSet = ["a", "b", "c"].into_iter().collect();
        set.truncate(1);
        assert_eq!(set.iter().collect::<Vec<_>>(), ["a"]);
        assert!(set.contains("a") && !set.contains("b") && !set.contains("c"));
        assert!(set.insert("c"));
        set.truncate(5);
        assert_eq!(set.len(), 2);
    }
}
