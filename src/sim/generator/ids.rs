//! Identifiers, secrets, and the randomness helpers `Rng` leaves out.

use crate::sim::rng::{BASE62, Rng};

/// Every generated secret (PASSWORD settings, sensitive function settings) starts with this, so
/// a test can grep any output for a leaked secret without knowing the workspace.
pub const SECRET_PREFIX: &str = "sbsecret_";

/// KSUID epoch (2014-05-13T16:53:20Z): ids made by [`ksuid`] sort by creation time, as real
/// Segment ids (`rs_1LMmY55…`, `df_1Pq…`) do.
const KSUID_EPOCH: i64 = 1_400_000_000;

/// A sub-stream for item `index` of a part. Forking by label alone XORs label hashes into the
/// state, so nested forks `a/1 → b/2` and `a/2 → b/1` would coincide; drawing the child's seed
/// through SplitMix outputs breaks that symmetry.
pub(super) fn sub_rng(parent: &Rng, label: &str, index: usize) -> Rng {
    let base = parent.fork(label).next_u64();
    let mut indexed = Rng::new(base ^ (index as u64).wrapping_mul(0xd6e8_feb8_6659_fd93));
    Rng::new(indexed.next_u64())
}

/// A 27-character KSUID: 4 bytes of seconds since the KSUID epoch and 16 random bytes,
/// big-endian, in zero-padded base62.
pub(super) fn ksuid(rng: &mut Rng, epoch_seconds: i64) -> String {
    let seconds = u32::try_from(epoch_seconds - KSUID_EPOCH).unwrap_or(0);
    let mut words = [
        seconds,
        rng.next_u64() as u32,
        rng.next_u64() as u32,
        rng.next_u64() as u32,
        rng.next_u64() as u32,
    ];
    base62_27(&mut words)
}

/// Long division of a 160-bit big-endian number by 62, least significant digit first.
fn base62_27(words: &mut [u32; 5]) -> String {
    let mut digits = [b'0'; 27];
    for digit in digits.iter_mut().rev() {
        let mut remainder: u64 = 0;
        for word in words.iter_mut() {
            let value = (remainder << 32) | u64::from(*word);
            *word = (value / 62) as u32;
            remainder = value % 62;
        }
        *digit = BASE62[remainder as usize];
    }
    String::from_utf8(digits.to_vec()).expect("base62 digits are ASCII")
}

/// A recognisable secret: [`SECRET_PREFIX`] and 32 random base62 characters (190 bits), so no
/// two secrets of a workspace are equal.
pub(super) fn secret(rng: &mut Rng) -> String {
    let mut s = String::with_capacity(SECRET_PREFIX.len() + 32);
    s.push_str(SECRET_PREFIX);
    s.push_str(&rng.string(BASE62, 32));
    s
}

/// Draws indices with probability proportional to their weights.
#[derive(Debug)]
pub(super) struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    pub fn new(weights: impl IntoIterator<Item = u64>) -> Self {
        let cumulative = weights
            .into_iter()
            .scan(0, |total, weight| {
                *total += weight;
                Some(*total)
            })
            .collect();
        Self { cumulative }
    }

    /// An index; there must be at least one positive weight.
    pub fn pick(&self, rng: &mut Rng) -> usize {
        let total = *self.cumulative.last().expect("weights are not empty");
        let target = rng.next_u64() % total;
        self.cumulative.partition_point(|&c| c <= target)
    }
}

/// Fisher–Yates, drawing from `rng` only.
pub(super) fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

pub(super) fn hex(rng: &mut Rng, len: usize) -> String {
    rng.string(b"0123456789abcdef", len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ksuids_are_27_base62_chars_and_sort_by_time() {
        let mut rng = Rng::new(1);
        // The creation time of the real plan rs_1LMmY55PRAqJrqPrGzyk2nlYuZ3 in the fixtures
        // (2019-05-17T15:19:44Z): the time alone fixes the first four characters.
        let early = ksuid(&mut rng, 1_558_106_384);
        let late = ksuid(&mut rng, 1_660_000_000);
        assert_eq!(early.len(), 27);
        assert!(early.bytes().all(|b| BASE62.contains(&b)));
        assert!(early < late, "{early} {late}");
        assert!(early.starts_with("1LMm"), "{early}");
    }

    #[test]
    fn base62_of_zero_and_max() {
        assert_eq!(base62_27(&mut [0; 5]), "0".repeat(27));
        // The largest KSUID, from the reference implementation.
        assert_eq!(base62_27(&mut [u32::MAX; 5]), "aWgEPTl1tmebfsQzFP4bxwgy80V");
    }

    #[test]
    fn sub_streams_do_not_commute() {
        let root = Rng::new(9);
        let a = sub_rng(&sub_rng(&root, "x", 1), "y", 2).next_u64();
        let b = sub_rng(&sub_rng(&root, "x", 2), "y", 1).next_u64();
        assert_ne!(a, b);
    }
}
