//! A cheap pre-check of a JSON body before it is parsed into `serde_json::Value`s.
//!
//! The body limit ([`super::error::MAX_BODY_BYTES`]) bounds the bytes of an answer, not the
//! memory its parse takes: `[0,0,0,…]` costs two bytes a value on the wire and several dozen in
//! a `Value`, so 32 MiB of tiny values would take gigabytes. Counting the values first, in one
//! pass over the bytes and without allocating, bounds that too. Nesting is bounded by
//! `serde_json` itself, which refuses more than [`MAX_DEPTH`] levels when it builds values, but
//! not when it only checks text it keeps as text (`RawValue`): a reader that keeps text to parse
//! later asks [`excess`] for both in one pass, so that the later parse cannot fail.

/// The most JSON values (objects, arrays, strings, numbers, literals) one answer may hold. The
/// largest real answers (a catalog page of 100 destinations with their settings, a tracking
/// plan with 2,000 rules) hold tens of thousands; a million leaves a wide margin and bounds a
/// parse to roughly a hundred megabytes.
pub const MAX_VALUES: usize = 1_000_000;

/// Whether `body` holds more than `limit` JSON values. Counts the openings of objects and
/// arrays, strings, and the separators between elements; any body that is not JSON is left to
/// the parser to refuse.
pub fn too_many_values(body: &[u8], limit: usize) -> bool {
    excess(body, limit, usize::MAX) == Some(Excess::Values)
}

/// The deepest nesting `serde_json` parses into values (its recursion limit of 128 counts the
/// level that fails).
pub const MAX_DEPTH: usize = 127;

/// What a body holds beyond the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excess {
    /// More than `max_values` values, however deep.
    Values,
    /// No more values than that, but nested more than `max_depth` deep.
    Depth,
}

/// Both checks in one pass over `body`: its values counted as [`too_many_values`] counts them
/// (which comes first), and the nesting of its objects and arrays outside strings. Any body
/// that is not JSON is left to the parser to refuse.
pub fn excess(body: &[u8], max_values: usize, max_depth: usize) -> Option<Excess> {
    let (mut values, mut depth, mut deep) = (0usize, 0usize, false);
    for byte in structure(body) {
        match byte {
            b'{' | b'[' => {
                values += 1;
                depth += 1;
                deep |= depth > max_depth;
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' | b',' => values += 1,
            _ => continue,
        }
        if values > max_values {
            return Some(Excess::Values);
        }
    }
    deep.then_some(Excess::Depth)
}

/// The bytes of `body` outside its strings, with each string's opening quote: the structure
/// of a JSON text without what its strings hold.
fn structure(body: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut in_string = false;
    let mut escaped = false;
    body.iter().copied().filter(move |&byte| {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            return false;
        }
        in_string = byte == b'"';
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_counted_outside_strings_only() {
        assert!(!too_many_values(br#"{"a": [1, 2, 3]}"#, 8));
        assert!(too_many_values(br#"{"a": [1, 2, 3]}"#, 4));
        assert!(!too_many_values(br#""[[[,,,{{{\"]]]""#, 1));
        let many = format!("[{}0]", "0,".repeat(100));
        assert!(too_many_values(many.as_bytes(), 100));
        assert!(!too_many_values(many.as_bytes(), 102));
    }

    /// Whether `body` nests objects and arrays more than `limit` deep.
    fn deeper_than(body: &[u8], limit: usize) -> bool {
        excess(body, usize::MAX, limit) == Some(Excess::Depth)
    }

    #[test]
    fn nesting_is_measured_outside_strings_only() {
        assert!(!deeper_than(br#"{"a": [[1], {"b": 2}]}"#, 3));
        assert!(deeper_than(br#"{"a": [[1], {"b": 2}]}"#, 2));
        assert!(!deeper_than(br#"["[[[{{\"[[["]"#, 1));
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(deeper_than(deep.as_bytes(), MAX_DEPTH));
        // The parser's own limit is the same.
        assert!(serde_json::from_str::<serde_json::Value>(&deep).is_err());
        let deepest = &deep[1..deep.len() - 1];
        assert!(!deeper_than(deepest.as_bytes(), MAX_DEPTH));
        assert!(serde_json::from_str::<serde_json::Value>(deepest).is_ok());
    }

    #[test]
    fn one_pass_finds_either_excess_and_too_many_values_first() {
        let deep = format!("{}{}", "[".repeat(5), "]".repeat(5));
        assert_eq!(excess(deep.as_bytes(), 10, 5), None);
        assert_eq!(excess(deep.as_bytes(), 10, 4), Some(Excess::Depth));
        assert_eq!(excess(deep.as_bytes(), 4, 4), Some(Excess::Values));
        assert_eq!(excess(deep.as_bytes(), 4, 10), Some(Excess::Values));
    }
}
