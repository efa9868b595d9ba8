//! [`TextMap`]: JSON texts by key, one or a few to a key, held together as compressed text: the
//! audit's target side keeps each destination under its id, and a destination's filters under
//! the destination's id, until they are compared.
//!
//! Texts are appended, a key's together, to an open block, as records like
//! [`super::TextSnapshot`]'s (a length, then the bytes); a block the next text would take past
//! [`BLOCK_BYTES`] is compressed with LZ4 and sealed. Compressed one list per key, as they were,
//! a destination's few filters (a kilobyte or two of JSON) shrank little: on `large` their 3.8
//! MB of text took 2 MB, besides a map entry and a list per destination. Blocks are
//! smaller than [`super::TextSnapshot`]'s because a lookup decompresses the block that holds
//! its key: the last block decompressed is kept for the next lookup, usually the same
//! destination's next filter.
//!
//! Invariants:
//! - A key's texts come back in the order they were given, and only its own.
//! - A key given again replaces its texts (the earlier ones stay in their block, unread).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use super::text_snapshot::{Blocks, read_record};

/// Raw bytes an open block collects before it is compressed: a filter or a destination cut to
/// the audit's fields is a few hundred bytes, so a block holds dozens, enough for their
/// repeated keys to compress, and decompressing one for a lookup costs microseconds.
const BLOCK_BYTES: usize = 16 * 1024;

#[derive(Default)]
pub struct TextMap {
    /// The texts, one record each, in order.
    blocks: Blocks<BLOCK_BYTES>,
    /// The number of the first text of each sealed block (texts are numbered as given).
    starts: Vec<usize>,
    /// The number of the open block's first text.
    open_start: usize,
    /// Texts given so far.
    count: usize,
    /// Key → the numbers of its texts.
    keys: BTreeMap<String, Range<usize>>,
    /// The last sealed block decompressed (its index and raw bytes).
    last: Mutex<Option<(usize, Arc<Vec<u8>>)>>,
}

impl TextMap {
    /// Stores `texts` (JSON texts) under `key`, in order, in place of any it had.
    pub fn insert<T: AsRef<str>>(&mut self, key: String, texts: impl IntoIterator<Item = T>) {
        let first = self.count;
        for text in texts {
            self.push(text.as_ref());
        }
        self.keys.insert(key, first..self.count);
    }

    fn push(&mut self, text: &str) {
        if self.blocks.append(&[text.as_bytes()]) {
            self.sealed_open();
        }
        self.count += 1;
    }

    /// Numbers the block just sealed; the open one starts at the next text.
    fn sealed_open(&mut self) {
        self.starts.push(self.open_start);
        self.open_start = self.count;
    }

    /// Compresses what is still raw and lets the open block's buffer go: once every key is in.
    pub fn seal(&mut self) {
        if self.blocks.seal() {
            self.sealed_open();
        }
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// The number of texts under `key`; `None` when it has none stored.
    pub fn count(&self, key: &str) -> Option<usize> {
        self.keys.get(key).map(ExactSizeIterator::len)
    }

    /// Calls `f` with each text of `key`, in order; whether the key is stored.
    pub fn each(&self, key: &str, mut f: impl FnMut(&str)) -> bool {
        let Some(range) = self.keys.get(key) else {
            return false;
        };
        self.each_in(range.clone(), &mut f);
        true
    }

    /// The first text of `key` parsed (a text that does not parse reads as `null`, as
    /// [`crate::model::JsonText::value`] does); `None` when the key has no text.
    pub fn value(&self, key: &str) -> Option<Value> {
        let mut value = None;
        self.each(key, |text| {
            if value.is_none() {
                value = Some(serde_json::from_str(text).unwrap_or(Value::Null));
            }
        });
        value
    }

    /// Calls `f` with the texts numbered `range`, which lie in consecutive blocks.
    fn each_in(&self, range: Range<usize>, f: &mut dyn FnMut(&str)) {
        if range.is_empty() {
            return;
        }
        // The sealed block holding the first text (the last one starting at or before it),
        // unless the open block holds it.
        let mut block = if range.start < self.open_start {
            self.starts
                .partition_point(|&start| start <= range.start)
                .saturating_sub(1)
        } else {
            self.blocks.sealed.len()
        };
        while block < self.blocks.sealed.len() && self.starts[block] < range.end {
            let raw = self.block(block);
            each_text(&raw, self.starts[block], &range, f);
            block += 1;
        }
        if range.end > self.open_start {
            each_text(&self.blocks.open, self.open_start, &range, f);
        }
    }

    /// Sealed block `index`, decompressed (the last one asked for is kept).
    fn block(&self, index: usize) -> Arc<Vec<u8>> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((held, raw)) = last.as_ref()
            && *held == index
        {
            return raw.clone();
        }
        // Compressed here from a block this type wrote: it decompresses.
        let raw = Arc::new(
            lz4_flex::decompress_size_prepended(&self.blocks.sealed[index]).unwrap_or_default(),
        );
        *last = Some((index, raw.clone()));
        raw
    }
}

/// Calls `f` with the texts of `raw` (whose first is number `first`) numbered within `range`.
fn each_text(mut raw: &[u8], first: usize, range: &Range<usize>, f: &mut dyn FnMut(&str)) {
    let mut number = first;
    while number < range.end {
        let Some((text, rest)) = read_record(raw) else {
            return;
        };
        if number >= range.start {
            f(text);
        }
        raw = rest;
        number += 1;
    }
}

impl Clone for TextMap {
    fn clone(&self) -> Self {
        TextMap {
            blocks: self.blocks.clone(),
            starts: self.starts.clone(),
            open_start: self.open_start,
            count: self.count,
            keys: self.keys.clone(),
            last: Mutex::new(None),
        }
    }
}

impl fmt::Debug for TextMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextMap")
            .field("keys", &self.keys)
            .field("texts", &self.count)
            .field("sealed_blocks", &self.blocks.sealed.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn texts_of(map: &TextMap, key: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        map.each(key, |text| out.push(text.to_owned()))
            .then_some(out)
    }

    proptest! {
        /// Whatever the sizes of the lists and texts, and whether the map is sealed, each key
        /// gives back exactly its own texts, in order, however the lookups are ordered.
        #[test]
        fn each_key_gives_back_its_own_texts_in_order(
            lists in prop::collection::vec(
                prop::collection::vec((0usize..3000, any::<u8>()), 0..12),
                0..120,
            ),
            seal in any::<bool>(),
            reverse in any::<bool>(),
        ) {
            let mut map = TextMap::default();
            let mut expected = Vec::new();
            for (i, list) in lists.iter().enumerate() {
                let texts: Vec<String> = list
                    .iter()
                    .map(|(len, byte)| format!("{{\"k\":{i},\"v\":\"{}\"}}", char::from(b'a' + byte % 26).to_string().repeat(*len)))
                    .collect();
                map.insert(format!("key-{i}"), &texts);
                expected.push((format!("key-{i}"), texts));
            }
            if seal {
                map.seal();
            }
            if reverse {
                expected.reverse();
            }
            for (key, texts) in &expected {
                prop_assert_eq!(texts_of(&map, key), Some(texts.clone()));
                prop_assert_eq!(map.count(key), Some(texts.len()));
            }
            prop_assert_eq!(map.len(), lists.len());
            prop_assert_eq!(texts_of(&map, "absent"), None);
        }
    }

    #[test]
    fn a_key_given_again_has_its_new_texts_only() {
        let mut map = TextMap::default();
        map.insert("d1".into(), ["{\"id\":\"f1\"}", "{\"id\":\"f2\"}"]);
        map.insert("d2".into(), ["{\"id\":\"f3\"}"]);
        map.insert("d1".into(), ["{\"id\":\"f4\"}"]);
        map.seal();
        assert_eq!(
            texts_of(&map, "d1"),
            Some(vec!["{\"id\":\"f4\"}".to_owned()])
        );
        assert_eq!(map.value("d2"), Some(serde_json::json!({"id": "f3"})));
        assert_eq!(map.keys().collect::<Vec<_>>(), ["d1", "d2"]);
        // A key with no texts is stored all the same.
        map.insert("d3".into(), Vec::<String>::new());
        assert_eq!(texts_of(&map, "d3"), Some(Vec::new()));
        assert_eq!(map.value("d3"), None);
    }

    #[test]
    fn many_small_lists_take_far_less_than_their_text() {
        let mut map = TextMap::default();
        let mut text = 0;
        for d in 0..2000 {
            let filters: Vec<String> = (0..4)
                .map(|f| {
                    format!(
                        r#"{{"id":"df_{d}_{f}","if":"event = \"Order Completed {f}\"","actions":[{{"type":"DROP_PROPERTIES","fields":{{"properties":["email","phone"]}}}}],"enabled":true,"title":"Drop PII {f}"}}"#
                    )
                })
                .collect();
            text += filters.iter().map(String::len).sum::<usize>();
            map.insert(format!("destination-{d}"), filters);
        }
        map.seal();
        let held: usize = map.blocks.sealed.iter().map(|b| b.len()).sum();
        assert!(held * 4 < text, "{held} bytes held for {text} of text");
        assert_eq!(map.blocks.open.capacity(), 0);
    }
}
