//! Secrets as OpenPanel stores them: generating, hashing (scrypt) and verifying.

use std::fmt;

use scrypt::{Params, scrypt};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// scrypt cost parameters of OpenPanel (Node's `crypto.scrypt` defaults): N = 2^14, r = 8, p = 1.
const SCRYPT_LOG_N: u8 = 14;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
/// Length of the derived key in bytes (64 hex characters when stored).
const KEY_LEN: usize = 32;
/// Length of the salt in hex characters (16 random bytes, as OpenPanel).
const SALT_HEX_LEN: usize = 32;
/// Generated secrets: this prefix, then 20 lowercase hex characters.
const SECRET_PREFIX: &str = "sec_";
const SECRET_RANDOM_BYTES: usize = 10;

/// A presented or generated secret; Debug/Display never show it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(s: String) -> Self {
        Secret(s)
    }

    /// The secret itself: only to verify it, or to show it once at creation.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `N` bytes from the operating system's CSPRNG.
///
/// uuid's v4 generator is that CSPRNG behind a stable API; only the 14 bytes of each UUID that
/// carry no version or variant bits are used, so every output byte is uniformly random.
pub(super) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    let mut filled = 0;
    while filled < N {
        let bytes = Uuid::new_v4().into_bytes();
        // Byte 6 holds the version nibble, byte 8 the variant bits.
        let random = bytes[..6].iter().chain(&bytes[7..8]).chain(&bytes[9..]);
        for (slot, byte) in out[filled..].iter_mut().zip(random) {
            *slot = *byte;
            filled += 1;
        }
    }
    out
}

/// `sec_` + 20 lowercase hex chars from a CSPRNG (80 random bits).
pub fn generate_secret() -> Secret {
    let random = random_bytes::<SECRET_RANDOM_BYTES>();
    Secret(format!("{SECRET_PREFIX}{}", hex::encode(random)))
}

/// The scrypt key of `secret` under `salt`, with OpenPanel's parameters.
fn derive_key(secret: &[u8], salt: &[u8]) -> [u8; KEY_LEN] {
    // Both can only fail for out-of-range constants, which these are not.
    let params = Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, KEY_LEN)
        .expect("constant scrypt parameters are valid");
    let mut key = [0u8; KEY_LEN];
    scrypt(secret, salt, &params, &mut key).expect("a 32-byte scrypt output is valid");
    key
}

/// Stored form `<salt>.<hash>` (§3.2): salt = 32 random lowercase hex chars, used as ASCII
/// bytes as the scrypt salt; hash = lowercase hex of the 32-byte scrypt key of the secret.
pub fn hash_secret(secret: &Secret) -> String {
    let salt = hex::encode(random_bytes::<{ SALT_HEX_LEN / 2 }>());
    let key = derive_key(secret.expose().as_bytes(), salt.as_bytes());
    format!("{salt}.{}", hex::encode(key))
}

/// Split a stored `<salt>.<hash>` into the salt text and the decoded key, or `None` when it
/// is malformed.
///
/// The salt must be 32 hex digits and the hash 64. Hex of either case is accepted: the salt
/// is used verbatim (so case matters to the derivation, not to validity) and the hash is
/// compared as bytes. Everything Quarry and OpenPanel write is lowercase.
fn parse_stored(stored: &str) -> Option<(&str, [u8; KEY_LEN])> {
    let (salt, hash) = stored.split_once('.')?;
    if salt.len() != SALT_HEX_LEN || !salt.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut key = [0u8; KEY_LEN];
    hex::decode_to_slice(hash, &mut key).ok()?;
    Some((salt, key))
}

/// Whether `secret` matches the stored `<salt>.<hash>`, comparing keys in constant time.
/// Malformed stored values never match (and cost no scrypt run).
pub fn verify_secret(secret: &str, stored: &str) -> bool {
    let Some((salt, expected)) = parse_stored(stored) else {
        return false;
    };
    let derived = derive_key(secret.as_bytes(), salt.as_bytes());
    derived.ct_eq(&expected).into()
}

/// A secret and its stored form, derived with OpenPanel's parameters (the tests' known
/// answer).
#[cfg(test)]
pub(super) const KNOWN_SECRET: &str = "sec_3f9a1c7e5b2d8f4a6c0e";
#[cfg(test)]
pub(super) const KNOWN_STORED: &str = "5f0c2a9e7d3b41c8a6e2f19b0d4c7a31.\
                                       61fd9dd6c344abe357930fb25ec4f373517adfd2e79808562438a33df0ac8c53";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn is_lower_hex(s: &str) -> bool {
        s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    #[test]
    fn known_answer_vector_verifies() {
        assert!(verify_secret(KNOWN_SECRET, KNOWN_STORED));
    }

    #[test]
    fn other_secrets_do_not_verify() {
        assert!(!verify_secret("sec_3f9a1c7e5b2d8f4a6c0f", KNOWN_STORED));
        assert!(!verify_secret("Sec_3f9a1c7e5b2d8f4a6c0e", KNOWN_STORED));
        assert!(!verify_secret("sec_3f9a1c7e5b2d8f4a6c0", KNOWN_STORED));
        assert!(!verify_secret("", KNOWN_STORED));
        assert!(!verify_secret(KNOWN_STORED, KNOWN_STORED));
    }

    #[test]
    fn malformed_stored_values_are_rejected() {
        let (salt, hash) = KNOWN_STORED.split_once('.').unwrap();
        let malformed = [
            String::new(),
            ".".to_owned(),
            format!("{salt}{hash}"),                      // no dot
            format!("{salt}."),                           // no hash
            format!(".{hash}"),                           // no salt
            format!("{}.{hash}", &salt[1..]),             // salt too short
            format!("{salt}0.{hash}"),                    // salt too long
            format!("{}g.{hash}", &salt[1..]),            // salt not hex
            format!("{salt}.{}", &hash[2..]),             // hash too short
            format!("{salt}.{hash}00"),                   // hash too long
            format!("{salt}.{}", &hash[1..]),             // odd number of hex digits
            format!("{salt}.{}zz", &hash[2..]),           // hash not hex
            format!("{salt}.{hash}.{hash}"),              // two dots
            format!("{salt}.{}", hash.replace('6', "é")), // multibyte characters
        ];
        for stored in &malformed {
            assert!(!verify_secret(KNOWN_SECRET, stored), "{stored:?} verified");
        }
    }

    #[test]
    fn uppercase_hash_hex_still_verifies() {
        // The hash is compared as bytes; the salt is used verbatim, so only the hash may change case.
        let (salt, hash) = KNOWN_STORED.split_once('.').unwrap();
        let upper = format!("{salt}.{}", hash.to_ascii_uppercase());
        assert!(verify_secret(KNOWN_SECRET, &upper));
        let upper_salt = format!("{}.{hash}", salt.to_ascii_uppercase());
        assert!(!verify_secret(KNOWN_SECRET, &upper_salt));
    }

    #[test]
    fn hash_secret_has_the_stored_format_and_round_trips() {
        let secret = Secret::new("correct horse".to_owned());
        let stored = hash_secret(&secret);
        let (salt, hash) = stored.split_once('.').unwrap();
        assert_eq!(salt.len(), 32);
        assert!(is_lower_hex(salt));
        assert_eq!(hash.len(), 64);
        assert!(is_lower_hex(hash));
        assert!(verify_secret("correct horse", &stored));
        assert!(!verify_secret("correct horse ", &stored));
        // A fresh salt each time.
        let again = hash_secret(&secret);
        assert_ne!(stored, again);
        assert!(verify_secret("correct horse", &again));
    }

    #[test]
    fn hash_secret_matches_openpanel_derivation() {
        // Recompute with the stored salt: the same construction as the known vector.
        let stored = hash_secret(&Secret::new(KNOWN_SECRET.to_owned()));
        let (salt, hash) = stored.split_once('.').unwrap();
        let expected = derive_key(KNOWN_SECRET.as_bytes(), salt.as_bytes());
        assert_eq!(hash, hex::encode(expected));
    }

    #[test]
    fn generated_secrets_have_the_documented_format() {
        let a = generate_secret();
        let b = generate_secret();
        for secret in [&a, &b] {
            let random = secret.expose().strip_prefix("sec_").unwrap();
            assert_eq!(random.len(), 20);
            assert!(is_lower_hex(random));
        }
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn random_bytes_fill_past_one_uuid() {
        let bytes = random_bytes::<40>();
        // 40 bytes need three UUIDs; a gap would leave a zero run at the end.
        assert_ne!(&bytes[28..], &[0u8; 12]);
    }
}
