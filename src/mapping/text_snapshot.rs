//! [`TextSnapshot`]: a snapshot held in memory as compressed JSON text, for a workspace that has
//! to be kept whole (the audit's re-read of the source, which waits for the target to be read and,
//! in `migrate`, for `apply` to end); and [`TextList`], one list held the same way (the rules of
//! a tracking plan in the audit's target side).
//!
//! Each kind's objects are appended as records (name, body text) to an open block; a block the
//! next record would take past 64 KB is compressed with LZ4 and sealed, and so is the last one
//! once the list or snapshot is complete (`seal`). JSON objects of one kind repeat the same keys
//! and values, so a block shrinks several-fold, and iterating costs one decompression per block
//! (a few milliseconds for a whole large workspace). Bodies are parsed again only for the length
//! of their mapping, one at a time.
//!
//! Invariants:
//! - Objects of a kind come back in the order they were pushed or appended.
//! - What is pushed is text of a `serde_json::Value`, so it parses; a record that would not (it
//!   cannot happen short of a bug here) is handed on as `null`, as a store whose row would not
//!   parse does.

use std::collections::BTreeMap;

use serde_json::Value;

use super::SnapshotSource;
use crate::model::Kind;

/// Raw bytes an open block collects before it is compressed: large enough that the repeated
/// keys of many objects share one block, small enough that decompressing one is cheap.
const BLOCK_BYTES: usize = 64 * 1024;

/// Records in blocks: sealed (compressed with LZ4) ones, then the open one, compressed and
/// sealed before an entry's records would take it past `LIMIT` bytes. Compressed before, not
/// after: the open buffer, grown by doubling, then never needs more than `LIMIT` (an entry
/// larger than that aside), where sealing after would leave it at twice that. Shared with
/// [`super::TextMap`], whose blocks are smaller.
#[derive(Debug, Clone, Default)]
pub(super) struct Blocks<const LIMIT: usize> {
    pub(super) sealed: Vec<Box<[u8]>>,
    pub(super) open: Vec<u8>,
}

impl<const LIMIT: usize> Blocks<LIMIT> {
    /// Appends the records of one entry to the open block; whether the block before them was
    /// sealed first.
    pub(super) fn append(&mut self, records: &[&[u8]]) -> bool {
        let size: usize = records.iter().map(|r| RECORD_HEADER + r.len()).sum();
        let sealed = self.open.len() + size > LIMIT && self.compress_open();
        for record in records {
            write_record(&mut self.open, record);
        }
        sealed
    }

    /// Compresses the open block into a sealed one and empties it, keeping its buffer for the
    /// next records; whether there was anything to compress.
    fn compress_open(&mut self) -> bool {
        if self.open.is_empty() {
            return false;
        }
        let compressed = lz4_flex::compress_prepend_size(&self.open);
        self.sealed.push(compressed.into_boxed_slice());
        self.open.clear();
        true
    }

    /// Compresses the open block and lets its buffer go: once nothing more is appended, an
    /// empty buffer kept would be up to `LIMIT` held for nothing per list (on `large`, the
    /// rules of the target's 60 tracking plans held 5.3 MB instead of 0.6). Whether a block
    /// was sealed.
    pub(super) fn seal(&mut self) -> bool {
        let sealed = self.compress_open();
        self.open = Vec::new();
        sealed
    }
}

/// The objects of one kind: (name, body) records in blocks.
#[derive(Debug, Clone, Default)]
struct Objects {
    blocks: Blocks<BLOCK_BYTES>,
    count: usize,
}

impl Objects {
    fn push(&mut self, name: &str, json: &str) {
        self.blocks.append(&[name.as_bytes(), json.as_bytes()]);
        self.count += 1;
    }

    fn seal(&mut self) {
        self.blocks.seal();
    }

    /// Bytes held: the sealed blocks and the open block's whole buffer.
    #[cfg(test)]
    fn held(&self) -> usize {
        let blocks = &self.blocks;
        blocks.sealed.iter().map(|b| b.len()).sum::<usize>() + blocks.open.capacity()
    }

    /// Calls `f` with each object's name and body text, in order.
    fn each_text(&self, f: &mut dyn FnMut(&str, &str)) {
        for block in &self.blocks.sealed {
            // Compressed here from a block this type wrote: it decompresses.
            if let Ok(raw) = lz4_flex::decompress_size_prepended(block) {
                each_record_pair(&raw, f);
            }
        }
        each_record_pair(&self.blocks.open, f);
    }
}

/// Bytes of a record's length.
const RECORD_HEADER: usize = 4;

/// A record: its length ([`RECORD_HEADER`] bytes, little-endian), then its bytes.
fn write_record(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("a JSON body over 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The record at the start of `raw`, and what follows it.
pub(super) fn read_record(raw: &[u8]) -> Option<(&str, &[u8])> {
    let (len, rest) = raw.split_first_chunk::<RECORD_HEADER>()?;
    let len = u32::from_le_bytes(*len) as usize;
    let bytes = rest.get(..len)?;
    Some((std::str::from_utf8(bytes).ok()?, &rest[len..]))
}

/// Calls `f` with each (name, body) pair of records in `raw`.
fn each_record_pair(mut raw: &[u8], f: &mut dyn FnMut(&str, &str)) {
    while let Some((name, rest)) = read_record(raw) {
        let Some((json, rest)) = read_record(rest) else {
            return;
        };
        f(name, json);
        raw = rest;
    }
}

/// A snapshot whose bodies are held as compressed JSON text (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct TextSnapshot {
    objects: BTreeMap<Kind, Objects>,
}

impl TextSnapshot {
    /// Adds an object; `json` is its body's JSON text.
    pub fn push(&mut self, kind: Kind, config_name: &str, json: &str) {
        self.objects
            .entry(kind)
            .or_default()
            .push(config_name, json);
    }

    /// Adds the objects of `other` after those already held, kind by kind.
    pub fn append(&mut self, other: TextSnapshot) {
        for (kind, blocks) in other.objects {
            let into = self.objects.entry(kind).or_default();
            blocks.each_text(&mut |name, json| into.push(name, json));
        }
    }

    /// Compresses what is still raw and lets the buffers go: once the snapshot is complete.
    pub fn seal(&mut self) {
        self.objects.values_mut().for_each(Objects::seal);
    }

    /// Lets the objects of `kind` go, once nothing will read them again.
    pub fn release(&mut self, kind: Kind) {
        self.objects.remove(&kind);
    }

    /// Objects per kind, for the kinds that have any.
    pub fn counts(&self) -> impl Iterator<Item = (Kind, usize)> + '_ {
        self.objects
            .iter()
            .map(|(kind, blocks)| (*kind, blocks.count))
    }
}

/// A list of JSON texts held the same way, compressed in blocks, for a list that is kept whole
/// and read once: a tracking plan's rules in the audit's target side (4.7 MB of text on
/// `large`, the largest part of what the audit holds).
#[derive(Debug, Clone, Default)]
pub struct TextList(Objects);

impl TextList {
    /// Appends `json` (JSON text).
    pub fn push(&mut self, json: &str) {
        self.0.push("", json);
    }

    /// Compresses the open block: once the list is complete, so that none of it stays raw.
    pub fn seal(&mut self) {
        self.0.seal();
    }

    pub fn len(&self) -> usize {
        self.0.count
    }

    pub fn is_empty(&self) -> bool {
        self.0.count == 0
    }

    /// Calls `f` with each text, in the order they were pushed: one block decompressed at a
    /// time, so that a reader that parses each text in turn never holds the list parsed.
    pub fn each(&self, mut f: impl FnMut(&str)) {
        self.0.each_text(&mut |_, json| f(json));
    }
}

impl SnapshotSource for TextSnapshot {
    type Error = std::convert::Infallible;

    fn each(&self, kind: Kind, f: &mut dyn FnMut(&str, &Value)) -> Result<(), Self::Error> {
        self.each_text(kind, &mut |name, json| {
            let body = serde_json::from_str(json).unwrap_or(Value::Null);
            f(name, &body);
        })
    }

    fn each_text(&self, kind: Kind, f: &mut dyn FnMut(&str, &str)) -> Result<(), Self::Error> {
        if let Some(blocks) = self.objects.get(&kind) {
            blocks.each_text(f);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn names(snapshot: &TextSnapshot, kind: Kind) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        let Ok(()) = snapshot.each(kind, &mut |name, body| {
            out.push((name.to_owned(), body.clone()));
        });
        out
    }

    #[test]
    fn objects_come_back_in_order_across_sealed_blocks() {
        let mut snapshot = TextSnapshot::default();
        // Enough objects for several sealed blocks and an open one.
        let pushed: Vec<(String, Value)> = (0..3000)
            .map(|i| {
                (
                    format!("workspaces/w/sources/s{i}"),
                    json!({"name": format!("s{i}"), "enabled": i % 2 == 0, "settings": {"k": "v".repeat(i % 40)}}),
                )
            })
            .collect();
        for (name, body) in &pushed {
            snapshot.push(Kind::Sources, name, &body.to_string());
        }
        snapshot.push(
            Kind::Destinations,
            "workspaces/w/sources/s0/destinations/d",
            "{}",
        );
        assert!(snapshot.objects[&Kind::Sources].blocks.sealed.len() > 1);
        assert_eq!(names(&snapshot, Kind::Sources), pushed);
        assert_eq!(
            snapshot.counts().collect::<Vec<_>>(),
            vec![(Kind::Sources, 3000), (Kind::Destinations, 1)]
        );
        assert!(names(&snapshot, Kind::Functions).is_empty());
    }

    #[test]
    fn a_block_is_smaller_than_its_text() {
        let mut snapshot = TextSnapshot::default();
        let mut text = 0;
        for i in 0..2000 {
            let body =
                json!({"name": format!("d{i}"), "config": [{"name": "apiKey", "value": "x"}]})
                    .to_string();
            text += body.len();
            snapshot.push(Kind::Destinations, &format!("d{i}"), &body);
        }
        // While objects come, the open block's buffer never grows past a block.
        let blocks = &snapshot.objects[&Kind::Destinations];
        assert!(
            blocks.blocks.open.capacity() <= BLOCK_BYTES,
            "{}",
            blocks.blocks.open.capacity()
        );
        snapshot.seal();
        let held = snapshot.objects[&Kind::Destinations].held();
        assert!(
            held * 3 < text,
            "{held} bytes held for {text} bytes of text"
        );
    }

    #[test]
    fn append_keeps_the_order_of_the_parts() {
        let mut whole = TextSnapshot::default();
        whole.push(Kind::Sources, "a", r#"{"n":1}"#);
        let mut part = TextSnapshot::default();
        part.push(Kind::Sources, "b", r#"{"n":2}"#);
        part.push(Kind::SchemaConfigs, "b/schema-config", "{}");
        whole.append(part);
        whole.push(Kind::Sources, "c", r#"{"n":3}"#);
        let order: Vec<String> = names(&whole, Kind::Sources)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(order, ["a", "b", "c"]);
        assert_eq!(names(&whole, Kind::SchemaConfigs).len(), 1);
    }

    #[test]
    fn a_list_comes_back_in_order_and_smaller() {
        let rules: Vec<Value> = (0..2000)
            .map(|i| {
                json!({"type": "TRACK", "key": format!("Event {i}"), "version": 1,
                            "jsonSchema": {"properties": {"properties": {"type": "object"}}}})
            })
            .collect();
        let mut list = TextList::default();
        let mut text = 0;
        for rule in &rules {
            let json = rule.to_string();
            text += json.len();
            list.push(&json);
        }
        list.seal();
        assert_eq!(list.len(), 2000);
        assert_eq!(
            list.0.blocks.open.capacity(),
            0,
            "nothing left raw once sealed"
        );
        let held = list.0.held();
        assert!(held * 3 < text, "{held} bytes held for {text} of text");
        let mut back = Vec::new();
        list.each(|json| back.push(serde_json::from_str::<Value>(json).unwrap()));
        assert_eq!(back, rules);
        TextList::default().each(|json| panic!("an empty list has no {json}"));
    }

    #[test]
    fn a_sealed_list_shorter_than_a_block_holds_only_its_compressed_text() {
        // A tracking plan of a few dozen rules: the case where an emptied buffer kept after
        // sealing held more than the text itself.
        let mut list = TextList::default();
        let mut text = 0;
        for i in 0..200 {
            let json =
                json!({"type": "TRACK", "key": format!("Event {i}"), "version": 1}).to_string();
            text += json.len();
            list.push(&json);
        }
        assert!(text < BLOCK_BYTES);
        list.seal();
        let held = list.0.held();
        assert!(held * 3 < text, "{held} bytes held for {text} of text");
        assert_eq!(list.len(), 200);
    }
}
