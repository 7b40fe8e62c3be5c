//! A compact set of scenario ids.
//!
//! A run can see millions of scenario ids. A `HashSet<String>` spends about 70 bytes on each
//! (a 24-byte `String`, a heap block, table slack); this set keeps every id's bytes in one
//! arena and a hashbrown table of 4-byte indices into it, about 30 bytes an id for
//! 15-character ids. The table's control bytes hold 7 bits of each id's hash, so a lookup
//! compares the text of (almost) only the id it finds: a log adding hundreds of new ids
//! touches a line or two of the table per id, not the arena (issue #20).

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

/// A set of strings stored back to back in one arena, found through a hash table.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSet {
    /// Every id's bytes, back to back.
    arena: String,
    /// Where each id ends in `arena` (it starts where the previous one ends).
    ends: Vec<u32>,
    /// Indices into `ends`.
    table: HashTable<u32>,
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
        id_in(&self.arena, &self.ends, i)
    }

    pub fn contains(&self, id: &str) -> bool {
        let hash = self.hasher.hash_one(id);
        self.table
            .find(hash, |&i| self.id(i as usize) == id)
            .is_some()
    }

    /// Adds `id`; returns whether it was new.
    ///
    /// # Panics
    /// When the arena would pass 4 GiB of id bytes (u32 offsets).
    pub fn insert(&mut self, id: &str) -> bool {
        let hash = self.hasher.hash_one(id);
        let (arena, ends, hasher) = (&self.arena, &self.ends, &self.hasher);
        let entry = self.table.entry(
            hash,
            |&i| id_in(arena, ends, i as usize) == id,
            |&i| hasher.hash_one(id_in(arena, ends, i as usize)),
        );
        let hashbrown::hash_table::Entry::Vacant(vacant) = entry else {
            return false;
        };
        vacant.insert(self.ends.len() as u32);
        self.arena.push_str(id);
        let end = u32::try_from(self.arena.len()).expect("scenario ids exceed 4 GiB");
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
        self.table.retain(|&mut i| (i as usize) < len);
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

/// The `i`th id of an arena and its ends.
fn id_in<'a>(arena: &'a str, ends: &[u32], i: usize) -> &'a str {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &arena[start..ends[i] as usize]
}

impl<S: AsRef<str>> Extend<S> for ScenarioSet {
    fn extend<I: IntoIterator<Item = S>>(&mut self, ids: I) {
        let ids = ids.into_iter();
        // Room for the ids at once: a step's set fills from empty on every log, and growing
        // it by doubling re-hashed every id several times.
        let (arena, ends, hasher) = (&self.arena, &self.ends, &self.hasher);
        self.table.reserve(ids.size_hint().0, |&i| {
            hasher.hash_one(id_in(arena, ends, i as usize))
        });
        self.ends.reserve(ids.size_hint().0);
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

        /// A flush taken back (`truncate`) forgets exactly the ids inserted after the point
        /// kept, and the set goes on as a fresh one holding the rest.
        #[test]
        fn truncate_then_insert_behaves_like_a_hash_set(
            first in proptest::collection::vec("[a-d]{0,3}", 0..100),
            keep in 0usize..100,
            then in proptest::collection::vec("[a-d]{0,3}", 0..100),
        ) {
            let mut ours = ScenarioSet::default();
            let mut order: Vec<String> = Vec::new();
            for id in &first {
                if ours.insert(id) {
                    order.push(id.clone());
                }
            }
            ours.truncate(keep);
            order.truncate(keep);
            let mut std_set: std::collections::HashSet<String> = order.iter().cloned().collect();
            for id in &then {
                prop_assert_eq!(ours.insert(id), std_set.insert(id.clone()));
            }
            prop_assert_eq!(ours.len(), std_set.len());
            for id in first.iter().chain(&then) {
                prop_assert_eq!(ours.contains(id), std_set.contains(id));
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
