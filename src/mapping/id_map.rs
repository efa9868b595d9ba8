//! The Public ids known for Config names: what exists in the target (adopt), what segbridge
//! created there earlier (resume), and what an audit checks.
//!
//! Packed, because a plan or an audit holds the ids of a whole workspace: per kind and field,
//! every pair's name and id are written one after the other into one string, and a hash table
//! holds only where each pair stands (12 bytes a pair). A map of `String`s took about 250 bytes
//! a pair on `large` (two allocations with their headers, three words each, a slot of both);
//! this takes the pair's text and about 15 bytes.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use super::{Ref, RefField};
use crate::model::Kind;

/// Public ids by the reference (kind, Config name, field) they stand for.
#[derive(Debug, Clone, Default)]
pub struct IdMap {
    // Keyed by (kind, field) first so that a lookup by `&str` needs no allocation.
    ids: HashMap<(Kind, RefField), Pairs>,
}

impl IdMap {
    pub fn new() -> IdMap {
        IdMap::default()
    }

    /// Records the Public id of `reference`, replacing the one it had.
    pub fn insert(&mut self, reference: Ref, public_id: impl AsRef<str>) {
        self.ids
            .entry((reference.kind, reference.field))
            .or_default()
            .insert(&reference.config_name, public_id.as_ref());
    }

    pub fn get(&self, reference: &Ref) -> Option<&str> {
        self.ids
            .get(&(reference.kind, reference.field))?
            .get(&reference.config_name)
    }

    /// The (Config name, Public id) pairs of one kind and field, in no particular order.
    pub fn pairs(&self, kind: Kind, field: RefField) -> impl Iterator<Item = (&str, &str)> {
        self.ids
            .get(&(kind, field))
            .into_iter()
            .flat_map(|pairs| pairs.table.iter().map(|span| span.pair(&pairs.text)))
    }

    /// Whether some reference has the Public id `id` (a scan of every pair).
    pub fn holds_id(&self, id: &str) -> bool {
        self.ids.values().any(|pairs| {
            pairs
                .table
                .iter()
                .any(|span| span.pair(&pairs.text).1 == id)
        })
    }

    /// Lets go of the room left for more pairs (up to half of what the map holds, grown by
    /// doubling), for a map that is complete: the audit's, read once from the ledger.
    pub fn shrink_to_fit(&mut self) {
        for pairs in self.ids.values_mut() {
            let Pairs {
                text,
                table,
                hasher,
            } = pairs;
            text.shrink_to_fit();
            table.shrink_to_fit(|s| hasher.hash_one(s.name(text)));
        }
    }

    pub fn len(&self) -> usize {
        self.ids.values().map(|pairs| pairs.table.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The pairs of one kind and field.
#[derive(Clone, Default)]
struct Pairs {
    /// Each pair's name, then its id, pair after pair.
    text: String,
    /// Where each pair stands in `text`, found by the hash of its name.
    table: HashTable<Span>,
    hasher: RandomState,
}

impl fmt::Debug for Pairs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pairs({})", self.table.len())
    }
}

/// Where one pair stands: its name from `start`, its id right after.
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    name_len: u32,
    id_len: u32,
}

impl Span {
    fn pair(self, text: &str) -> (&str, &str) {
        let start = self.start as usize;
        let (name, id) = text[start..start + (self.name_len + self.id_len) as usize]
            .split_at(self.name_len as usize);
        (name, id)
    }

    fn name(self, text: &str) -> &str {
        self.pair(text).0
    }
}

impl Pairs {
    fn get(&self, name: &str) -> Option<&str> {
        let hash = self.hasher.hash_one(name);
        self.table
            .find(hash, |span| span.name(&self.text) == name)
            .map(|span| span.pair(&self.text).1)
    }

    /// Adds the pair; a name given again gets the new id (its old text stays, unused: ids are
    /// replaced only when a resumed run meets an object twice).
    fn insert(&mut self, name: &str, id: &str) {
        let length = |s: &str| u32::try_from(s.len()).expect("a name or an id under 4 GiB");
        let span = Span {
            start: u32::try_from(self.text.len()).expect("an id map under 4 GiB of text"),
            name_len: length(name),
            id_len: length(id),
        };
        self.text.push_str(name);
        self.text.push_str(id);
        let Pairs {
            text,
            table,
            hasher,
        } = self;
        let hash = hasher.hash_one(name);
        match table.find_mut(hash, |s| s.name(text) == name) {
            Some(existing) => *existing = span,
            None => {
                table.insert_unique(hash, span, |s| hasher.hash_one(s.name(text)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn ids_are_found_by_kind_name_and_field_and_replaced_when_given_again() {
        let mut ids = IdMap::new();
        let source = Ref::id(Kind::Sources, "workspaces/w/sources/js");
        let function = Ref {
            kind: Kind::Functions,
            config_name: "workspaces/w/functions/f".into(),
            field: RefField::CatalogId,
        };
        assert!(ids.is_empty() && ids.get(&source).is_none());
        ids.insert(source.clone(), "src_1");
        ids.insert(function.clone(), "cat_1");
        ids.insert(Ref::id(Kind::Functions, "workspaces/w/functions/f"), "fn_1");
        assert_eq!(ids.get(&source), Some("src_1"));
        assert_eq!(ids.get(&function), Some("cat_1"));
        assert_eq!(
            ids.get(&Ref::id(Kind::Functions, "workspaces/w/functions/f")),
            Some("fn_1")
        );
        assert_eq!(
            ids.get(&Ref::id(Kind::Destinations, &source.config_name)),
            None
        );
        ids.insert(source.clone(), "src_2");
        assert_eq!(ids.get(&source), Some("src_2"));
        assert_eq!(ids.len(), 3);
        assert!(ids.holds_id("src_2") && ids.holds_id("cat_1"));
        assert!(!ids.holds_id("src_1") && !ids.holds_id("src"));
        // A name that is another's prefix, and an empty one, are names of their own.
        ids.insert(Ref::id(Kind::Sources, "workspaces/w/sources/j"), "");
        ids.insert(Ref::id(Kind::Sources, ""), "src_0");
        assert_eq!(
            ids.get(&Ref::id(Kind::Sources, "workspaces/w/sources/j")),
            Some("")
        );
        assert_eq!(ids.get(&Ref::id(Kind::Sources, "")), Some("src_0"));
        assert_eq!(ids.get(&source), Some("src_2"));
    }

    #[test]
    fn it_agrees_with_a_map_over_many_pairs() {
        let mut ids = IdMap::new();
        let mut expected = BTreeMap::new();
        for i in 0..5_000 {
            let name = format!("workspaces/w/sources/s{}/destinations/d{i}", i % 97);
            let id = format!("id{}", i * 7 % 1_003);
            ids.insert(Ref::id(Kind::Destinations, &name), &id);
            expected.insert(name, id);
        }
        assert_eq!(ids.len(), expected.len());
        for (name, id) in &expected {
            assert_eq!(
                ids.get(&Ref::id(Kind::Destinations, name)),
                Some(id.as_str())
            );
        }
        let pairs: BTreeMap<String, String> = ids
            .pairs(Kind::Destinations, RefField::Id)
            .map(|(name, id)| (name.to_owned(), id.to_owned()))
            .collect();
        assert_eq!(pairs, expected);
        ids.shrink_to_fit();
        for (name, id) in &expected {
            assert_eq!(
                ids.get(&Ref::id(Kind::Destinations, name)),
                Some(id.as_str())
            );
        }
        assert_eq!(ids.pairs(Kind::Sources, RefField::Id).count(), 0);
    }
}
