//! An object of a plan named by a fingerprint of its kind and Config name, for the sets a plan
//! made in stages keeps of every object planned so far.
//!
//! Each stage of `migrate` must know which objects the stages before it planned, and which of
//! those will not be applied (15,000 objects on `large`, and as many more as a workspace has).
//! Kept as `(Kind, String)`, each was a name of about a hundred bytes allocated on its own plus
//! a 32-byte slot: 2.8 MB on `large`, allocated a stage at a time among the short-lived values
//! of that stage's mapping, so that pages of the planner's memory held a few names each and
//! could not be given back. An [`ObjectKey`] is 16 bytes in one table.
//!
//! It is the first 128 bits of the SHA-256 of the kind and the name. Two objects share one only
//! by a collision of those bits: for a million objects the chance that any two do is about
//! 10⁻²⁷, far below that of the disk returning a wrong page.

use sha2::{Digest, Sha256};

use crate::model::Kind;

/// A fingerprint of (kind, Config name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectKey(u128);

impl ObjectKey {
    /// The key of the object `name` of `kind`.
    pub fn of(kind: Kind, name: &str) -> ObjectKey {
        let mut digest = Sha256::new();
        digest.update(kind.as_str().as_bytes());
        // No kind holds a newline: the kind and the name cannot run into each other.
        digest.update(b"\n");
        digest.update(name.as_bytes());
        let digest = digest.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        ObjectKey(u128::from_be_bytes(first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_its_kind_and_name_and_nothing_else() {
        let key = ObjectKey::of(Kind::Sources, "workspaces/acme/sources/web");
        assert_eq!(
            key,
            ObjectKey::of(Kind::Sources, "workspaces/acme/sources/web")
        );
        assert_ne!(
            key,
            ObjectKey::of(Kind::Destinations, "workspaces/acme/sources/web")
        );
        assert_ne!(
            key,
            ObjectKey::of(Kind::Sources, "workspaces/acme/sources/web2")
        );
        // The kind's end is marked: `sources` + `x` is not `sourcesx` + ``.
        assert_ne!(
            ObjectKey::of(Kind::Sources, "x"),
            ObjectKey::of(Kind::Sources, "\nx")
        );
    }
}
