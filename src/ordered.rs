//! `OrderedValues`: a small insertion-ordered map, because rows keep the reference's key order.

use std::collections::HashMap;
use std::ops::Index;

/// An insertion-ordered map with dict semantics: re-setting a key keeps its position.
#[derive(Debug, Clone)]
pub struct OrderedValues<V> {
    entries: Vec<(String, V)>,
    index: HashMap<String, usize>,
}

impl<V> Default for OrderedValues<V> {
    fn default() -> Self {
        OrderedValues {
            entries: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<V> OrderedValues<V> {
    /// Sets `key` to `value`, keeping the first position of `key`.
    pub fn set(&mut self, key: &str, value: V) {
        match self.index.get(key) {
            Some(&i) => self.entries[i].1 = value,
            None => {
                self.index.insert(key.to_owned(), self.entries.len());
                self.entries.push((key.to_owned(), value));
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    pub fn get_mut_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => {
                self.index.insert(key.to_owned(), self.entries.len());
                self.entries.push((key.to_owned(), make()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn into_entries(self) -> Vec<(String, V)> {
        self.entries
    }
}

impl<V> OrderedValues<V> {
    pub fn contains_key(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }
}

impl<V> Index<&str> for OrderedValues<V> {
    type Output = V;

    fn index(&self, key: &str) -> &V {
        self.get(key)
            .unwrap_or_else(|| panic!("no value for key '{key}'"))
    }
}

impl<V> IntoIterator for OrderedValues<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resetting_keeps_the_first_position() {
        let mut m = OrderedValues::default();
        m.set("b", 1);
        m.set("a", 2);
        m.set("b", 3);
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [("b".into(), 3), ("a".into(), 2)]
        );
    }
}
