//! Client authentication for the export endpoints (contract §3).
//!
//! Secrets are stored exactly as OpenPanel stores them — `<salt>.<hash>`, scrypt with
//! N=16384, r=8, p=1 over the UTF-8 secret, the 32 hex characters of the salt used as the
//! salt bytes — so the `clients` rows of an existing OpenPanel deployment authenticate
//! unchanged, and secrets Quarry creates work in OpenPanel too.
//!
//! scrypt is slow on purpose (tens of milliseconds). [`VerifyCache`] remembers successful
//! verifications so the cost is paid once per client and secret, not once per request; it
//! holds keyed fingerprints, never secrets. The derivation itself runs on tokio's blocking
//! pool so it never stalls the request workers.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use quarry_core::storage::{Catalog, ClientKind, ClientRecord, StorageError};
use scrypt::{Params, scrypt};
use sha2::{Digest, Sha256};
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
fn random_bytes<const N: usize>() -> [u8; N] {
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

/// A cache key: SHA-256 over the cache's random key, the client id, the stored hash and the
/// presented secret.
type Fingerprint = [u8; 32];

/// Bounded in-memory cache of successful verifications.
///
/// Entries are keyed by a fingerprint of (client id, stored hash, presented secret) under a
/// random key drawn when the cache is created, so the cache never holds a secret nor anything
/// an attacker could test guesses against offline. Including the stored hash means rotating a
/// client's secret invalidates its entries at once. Entries live for the TTL; when the cache
/// is full, expired entries are dropped and then the oldest one. Cloning shares the cache.
#[derive(Clone)]
pub struct VerifyCache {
    inner: Arc<CacheInner>,
}

struct CacheInner {
    key: [u8; 32],
    max_entries: usize,
    ttl: Duration,
    /// Fingerprint → when it was verified.
    entries: Mutex<HashMap<Fingerprint, Instant>>,
}

impl fmt::Debug for VerifyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out of logs; the size is what an operator wants to see.
        let len = self
            .inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("VerifyCache")
            .field("entries", &len)
            .field("max_entries", &self.inner.max_entries)
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

impl VerifyCache {
    /// A cache of at most `max_entries` verifications, each trusted for `ttl`.
    /// `max_entries == 0` or a zero `ttl` disables caching.
    pub fn new(max_entries: usize, ttl: Duration) -> Self {
        VerifyCache {
            inner: Arc::new(CacheInner {
                key: random_bytes(),
                max_entries,
                ttl,
                entries: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn fingerprint(&self, client_id: &str, secret: &str, stored: &str) -> Fingerprint {
        let mut hasher = Sha256::new();
        hasher.update(self.inner.key);
        // Length prefixes keep the fields from running into each other.
        for field in [client_id, stored] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hasher.update(secret.as_bytes());
        hasher.finalize().into()
    }

    /// Locking never fails for good: the map is valid after any panic, so poisoning is ignored.
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Fingerprint, Instant>> {
        self.inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `secret` was verified against `stored` for this client within the TTL.
    pub fn contains(&self, client_id: &str, secret: &str, stored: &str) -> bool {
        let fingerprint = self.fingerprint(client_id, secret, stored);
        let now = Instant::now();
        let mut entries = self.entries();
        match entries.get(&fingerprint) {
            Some(at) if now.saturating_duration_since(*at) < self.inner.ttl => true,
            Some(_) => {
                entries.remove(&fingerprint);
                false
            }
            None => false,
        }
    }

    /// Remember that `secret` verified against `stored` for this client.
    pub fn insert(&self, client_id: &str, secret: &str, stored: &str) {
        if self.inner.max_entries == 0 || self.inner.ttl.is_zero() {
            return;
        }
        let fingerprint = self.fingerprint(client_id, secret, stored);
        let now = Instant::now();
        let ttl = self.inner.ttl;
        let mut entries = self.entries();
        if !entries.contains_key(&fingerprint) && entries.len() >= self.inner.max_entries {
            entries.retain(|_, at| now.saturating_duration_since(*at) < ttl);
            // Only successful verifications get here, a few per client per TTL, so a linear
            // scan for the oldest costs nothing next to the scrypt run that preceded it.
            while entries.len() >= self.inner.max_entries {
                let Some(oldest) = entries.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k)
                else {
                    break;
                };
                entries.remove(&oldest);
            }
        }
        entries.insert(fingerprint, now);
    }
}

/// Why a request is not authenticated (§3.3); every variant but `Storage` is a 401.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The client-id header is missing or not a UUID.
    #[error("Export: Client ID must be a valid UUIDv4")]
    BadClientId,
    /// No client has this id.
    #[error("Export: Invalid client id")]
    UnknownClient,
    /// The client has no (or an empty) stored secret.
    #[error("Export: Client has no secret")]
    NoSecret,
    /// Write clients ingest; they may not export.
    #[error("Export: Client is not allowed to export")]
    WriteClient,
    /// The secret header is missing or does not match.
    #[error("Export: Invalid client secret")]
    BadSecret,
    /// The catalog could not be read.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The client id in canonical form, or `None` when it is not a hyphenated UUID.
///
/// Any UUID version is accepted (case-insensitive), although OpenPanel's message says
/// UUIDv4: OpenPanel's own ids come from PostgreSQL's `gen_random_uuid()` (v4), but ids
/// imported or created by other tools may be other versions, and refusing them would lock
/// those clients out while gaining nothing — an id no client has fails at the next check.
/// Only the 36-character hyphenated form is accepted (not braces, `urn:uuid:` or bare hex),
/// and it is lowercased because that is how ids are stored (PostgreSQL's `uuid` type compares
/// case-insensitively; SQLite's text does not).
fn canonical_client_id(id: &str) -> Option<String> {
    const HYPHENATED_LEN: usize = 36;
    if id.len() != HYPHENATED_LEN {
        return None;
    }
    Uuid::try_parse(id)
        .ok()
        .map(|uuid| uuid.hyphenated().to_string())
}

/// Authenticate an export request (§3.3), returning the client.
///
/// Checks, in order: client-id header missing or not a UUID → [`AuthError::BadClientId`];
/// no such client → [`AuthError::UnknownClient`]; client without a secret →
/// [`AuthError::NoSecret`]; a `write` client → [`AuthError::WriteClient`]; secret missing or
/// wrong → [`AuthError::BadSecret`]. scrypt runs on the blocking pool and only when the cache
/// has no entry for this client, secret and stored hash; a success is cached.
pub async fn authenticate(
    catalog: &dyn Catalog,
    cache: &VerifyCache,
    client_id: Option<&str>,
    secret: Option<&str>,
) -> Result<ClientRecord, AuthError> {
    authenticate_with(catalog, cache, client_id, secret, verify_secret).await
}

/// [`authenticate`] with the verifier passed in, so tests can count scrypt runs.
async fn authenticate_with(
    catalog: &dyn Catalog,
    cache: &VerifyCache,
    client_id: Option<&str>,
    secret: Option<&str>,
    verify: fn(&str, &str) -> bool,
) -> Result<ClientRecord, AuthError> {
    let id = client_id
        .and_then(canonical_client_id)
        .ok_or(AuthError::BadClientId)?;
    let client = catalog.client(&id).await?.ok_or(AuthError::UnknownClient)?;
    let stored = match client.secret.as_deref() {
        Some(stored) if !stored.is_empty() => stored.to_owned(),
        _ => return Err(AuthError::NoSecret),
    };
    if client.kind == ClientKind::Write {
        return Err(AuthError::WriteClient);
    }
    let secret = secret.ok_or(AuthError::BadSecret)?;
    if cache.contains(&client.id, secret, &stored) {
        return Ok(client);
    }

    let presented = Secret::new(secret.to_owned());
    let to_check = stored.clone();
    let verified = tokio::task::spawn_blocking(move || verify(presented.expose(), &to_check)).await;
    match verified {
        Ok(true) => {
            cache.insert(&client.id, secret, &stored);
            Ok(client)
        }
        Ok(false) => Err(AuthError::BadSecret),
        Err(error) => {
            // The verifier panicked or the runtime is shutting down: fail closed.
            tracing::error!(client_id = %client.id, %error, "secret verification did not complete");
            Err(AuthError::BadSecret)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use quarry_core::storage::ProjectRecord;

    use super::*;

    const KNOWN_SECRET: &str = "sec_3f9a1c7e5b2d8f4a6c0e";
    const KNOWN_STORED: &str = "5f0c2a9e7d3b41c8a6e2f19b0d4c7a31.\
                                61fd9dd6c344abe357930fb25ec4f373517adfd2e79808562438a33df0ac8c53";

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

    #[test]
    fn debug_and_display_never_show_secrets() {
        let secret = Secret::new(KNOWN_SECRET.to_owned());
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert!(!format!("{secret}").contains(KNOWN_SECRET));
        assert!(!format!("{secret:#?}").contains("3f9a"));

        let client = read_client(Some(KNOWN_STORED));
        let debug = format!("{client:?} {client:#?}");
        assert!(!debug.contains("61fd9dd6"), "{debug}");
        assert!(!debug.contains("5f0c2a9e"), "{debug}");
        assert!(debug.contains("<redacted>"));

        let cache = VerifyCache::new(4, Duration::from_secs(60));
        cache.insert(CLIENT_ID, KNOWN_SECRET, KNOWN_STORED);
        let debug = format!("{cache:?}");
        assert!(
            !debug.contains(KNOWN_SECRET) && debug.contains("entries: 1"),
            "{debug}"
        );
    }

    #[test]
    fn cache_hits_only_the_same_client_secret_and_hash() {
        let cache = VerifyCache::new(16, Duration::from_secs(60));
        assert!(!cache.contains("a", "s", "h"));
        cache.insert("a", "s", "h");
        assert!(cache.contains("a", "s", "h"));
        assert!(!cache.contains("b", "s", "h"));
        assert!(!cache.contains("a", "t", "h"));
        // Rotated secret: the stored hash changed.
        assert!(!cache.contains("a", "s", "h2"));
        // Field boundaries matter: ("ab","s","h") is not ("a","bs","h").
        cache.insert("ab", "c", "h");
        assert!(!cache.contains("a", "bc", "h"));
        // Shared through clones.
        let clone = cache.clone();
        assert!(clone.contains("a", "s", "h"));
    }

    #[test]
    fn cache_entries_expire() {
        let cache = VerifyCache::new(16, Duration::from_millis(20));
        cache.insert("a", "s", "h");
        assert!(cache.contains("a", "s", "h"));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!cache.contains("a", "s", "h"));
        assert_eq!(
            cache.entries().len(),
            0,
            "an expired entry is dropped on lookup"
        );
    }

    #[test]
    fn cache_is_bounded_and_evicts_the_oldest() {
        let cache = VerifyCache::new(3, Duration::from_secs(60));
        for id in ["a", "b", "c"] {
            cache.insert(id, "s", "h");
            std::thread::sleep(Duration::from_millis(2));
        }
        cache.insert("d", "s", "h");
        assert_eq!(cache.entries().len(), 3);
        assert!(!cache.contains("a", "s", "h"));
        for id in ["b", "c", "d"] {
            assert!(cache.contains(id, "s", "h"), "{id} evicted");
        }
        // Re-inserting a present entry evicts nothing.
        cache.insert("d", "s", "h");
        assert!(cache.contains("b", "s", "h"));
        for i in 0..100 {
            cache.insert(&i.to_string(), "s", "h");
        }
        assert_eq!(cache.entries().len(), 3);
    }

    #[test]
    fn cache_prefers_dropping_expired_entries() {
        let cache = VerifyCache::new(2, Duration::from_millis(30));
        cache.insert("a", "s", "h");
        std::thread::sleep(Duration::from_millis(40));
        cache.insert("b", "s", "h");
        cache.insert("c", "s", "h");
        assert!(cache.contains("b", "s", "h"));
        assert!(cache.contains("c", "s", "h"));
    }

    #[test]
    fn disabled_cache_never_hits() {
        let none = VerifyCache::new(0, Duration::from_secs(60));
        none.insert("a", "s", "h");
        assert!(!none.contains("a", "s", "h"));
        let instant = VerifyCache::new(8, Duration::ZERO);
        instant.insert("a", "s", "h");
        assert!(!instant.contains("a", "s", "h"));
    }

    #[test]
    fn client_ids_must_be_hyphenated_uuids() {
        let canonical = "0b0e9c4e-2f8a-4d57-9a0f-3c1e5b7d9f21";
        assert_eq!(canonical_client_id(canonical).as_deref(), Some(canonical));
        assert_eq!(
            canonical_client_id(&canonical.to_ascii_uppercase()).as_deref(),
            Some(canonical)
        );
        // Other versions are accepted (v1, v7).
        assert!(canonical_client_id("c232ab00-9414-11ec-b3c8-9f6bdeced846").is_some());
        assert!(canonical_client_id("01890a5d-ac96-774b-bcce-b302099a8057").is_some());
        for bad in [
            "",
            "not-a-uuid",
            "0b0e9c4e2f8a4d579a0f3c1e5b7d9f21",
            "{0b0e9c4e-2f8a-4d57-9a0f-3c1e5b7d9f21}",
            "urn:uuid:0b0e9c4e-2f8a-4d57-9a0f-3c1e5b7d9f21",
            "0b0e9c4e-2f8a-4d57-9a0f-3c1e5b7d9f2g",
            " 0b0e9c4e-2f8a-4d57-9a0f-3c1e5b7d9f2",
            "0b0e9c4e-2f8a4-d57-9a0f-3c1e5b7d9f21",
        ] {
            assert_eq!(canonical_client_id(bad), None, "{bad:?} accepted");
        }
    }

    // --- authenticate -------------------------------------------------------------------

    const CLIENT_ID: &str = "0b0e9c4e-2f8a-4d57-9a0f-3c1e5b7d9f21";
    const WRITE_ID: &str = "1c1f0d5f-3a9b-4e68-8b1a-4d2f6c8e0a32";
    const EMPTY_ID: &str = "2d201e60-4bac-4f79-9c2b-5e307d9f1b43";
    const NONE_ID: &str = "3e312f71-5cbd-4a8a-8d3c-6f418e0a2c54";
    const ROOT_ID: &str = "4f423082-6dce-4b9b-9e4d-70529f1b3d65";
    const MISSING_ID: &str = "5a534193-7edf-4cac-8f5e-8163a02c4e76";

    fn read_client(secret: Option<&str>) -> ClientRecord {
        ClientRecord {
            id: CLIENT_ID.to_owned(),
            name: "reader".to_owned(),
            secret: secret.map(str::to_owned),
            kind: ClientKind::Read,
            project_id: Some("demo".to_owned()),
            organization_id: "org".to_owned(),
        }
    }

    /// A catalog of clients for these tests only (it stands for the catalog, not for storage).
    #[derive(Debug, Default)]
    struct Clients {
        clients: HashMap<String, ClientRecord>,
        unavailable: bool,
    }

    impl Clients {
        fn standard() -> Self {
            let mut clients = HashMap::new();
            let mut add = |id: &str, kind: ClientKind, secret: Option<&str>| {
                let record = ClientRecord {
                    id: id.to_owned(),
                    kind,
                    secret: secret.map(str::to_owned),
                    ..read_client(None)
                };
                clients.insert(id.to_owned(), record);
            };
            add(CLIENT_ID, ClientKind::Read, Some(KNOWN_STORED));
            add(WRITE_ID, ClientKind::Write, Some(KNOWN_STORED));
            add(EMPTY_ID, ClientKind::Read, Some(""));
            add(NONE_ID, ClientKind::Write, None);
            add(ROOT_ID, ClientKind::Root, Some(KNOWN_STORED));
            Clients {
                clients,
                unavailable: false,
            }
        }
    }

    #[async_trait]
    impl Catalog for Clients {
        async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StorageError> {
            if self.unavailable {
                return Err(StorageError::Unavailable("down".to_owned()));
            }
            Ok(self.clients.get(id).cloned())
        }
        async fn project(&self, _id: &str) -> Result<Option<ProjectRecord>, StorageError> {
            Ok(None)
        }
        async fn ping(&self) -> Result<(), StorageError> {
            Ok(())
        }
    }

    async fn auth(id: Option<&str>, secret: Option<&str>) -> Result<ClientRecord, AuthError> {
        let cache = VerifyCache::new(16, Duration::from_secs(60));
        authenticate(&Clients::standard(), &cache, id, secret).await
    }

    #[tokio::test]
    async fn checks_run_in_the_documented_order() {
        // 1. A bad id wins over everything else.
        let r = auth(None, Some(KNOWN_SECRET)).await;
        assert!(matches!(r, Err(AuthError::BadClientId)), "{r:?}");
        let r = auth(Some("nope"), None).await;
        assert!(matches!(r, Err(AuthError::BadClientId)), "{r:?}");
        // 2. Unknown client, even without a secret.
        let r = auth(Some(MISSING_ID), None).await;
        assert!(matches!(r, Err(AuthError::UnknownClient)), "{r:?}");
        // 3. No secret stored: before the write check, and regardless of what was presented.
        let r = auth(Some(NONE_ID), Some(KNOWN_SECRET)).await;
        assert!(matches!(r, Err(AuthError::NoSecret)), "{r:?}");
        let r = auth(Some(EMPTY_ID), Some("")).await;
        assert!(matches!(r, Err(AuthError::NoSecret)), "{r:?}");
        // 4. Write clients are refused whatever the secret.
        let r = auth(Some(WRITE_ID), Some("wrong")).await;
        assert!(matches!(r, Err(AuthError::WriteClient)), "{r:?}");
        let r = auth(Some(WRITE_ID), Some(KNOWN_SECRET)).await;
        assert!(matches!(r, Err(AuthError::WriteClient)), "{r:?}");
        // 5. Missing or wrong secret.
        let r = auth(Some(CLIENT_ID), None).await;
        assert!(matches!(r, Err(AuthError::BadSecret)), "{r:?}");
        let r = auth(Some(CLIENT_ID), Some("sec_3f9a1c7e5b2d8f4a6c0f")).await;
        assert!(matches!(r, Err(AuthError::BadSecret)), "{r:?}");
    }

    #[tokio::test]
    async fn valid_clients_authenticate() {
        let client = auth(Some(CLIENT_ID), Some(KNOWN_SECRET)).await.unwrap();
        assert_eq!(client.id, CLIENT_ID);
        assert_eq!(client.kind, ClientKind::Read);
        // Case-insensitive id.
        let client = auth(Some(&CLIENT_ID.to_ascii_uppercase()), Some(KNOWN_SECRET))
            .await
            .unwrap();
        assert_eq!(client.id, CLIENT_ID);
        let root = auth(Some(ROOT_ID), Some(KNOWN_SECRET)).await.unwrap();
        assert_eq!(root.kind, ClientKind::Root);
    }

    #[tokio::test]
    async fn error_messages_are_openpanels() {
        assert_eq!(
            AuthError::BadClientId.to_string(),
            "Export: Client ID must be a valid UUIDv4"
        );
        assert_eq!(
            AuthError::UnknownClient.to_string(),
            "Export: Invalid client id"
        );
        assert_eq!(
            AuthError::NoSecret.to_string(),
            "Export: Client has no secret"
        );
        assert_eq!(
            AuthError::WriteClient.to_string(),
            "Export: Client is not allowed to export"
        );
        assert_eq!(
            AuthError::BadSecret.to_string(),
            "Export: Invalid client secret"
        );
    }

    #[tokio::test]
    async fn storage_failures_pass_through() {
        let catalog = Clients {
            unavailable: true,
            ..Clients::default()
        };
        let cache = VerifyCache::new(16, Duration::from_secs(60));
        let r = authenticate(&catalog, &cache, Some(CLIENT_ID), Some(KNOWN_SECRET)).await;
        assert!(
            matches!(r, Err(AuthError::Storage(StorageError::Unavailable(_)))),
            "{r:?}"
        );
    }

    async fn run(
        catalog: &Clients,
        cache: &VerifyCache,
        secret: &str,
    ) -> Result<ClientRecord, AuthError> {
        authenticate_with(
            catalog,
            cache,
            Some(CLIENT_ID),
            Some(secret),
            counting_verify,
        )
        .await
    }

    static SCRYPT_RUNS: AtomicUsize = AtomicUsize::new(0);

    fn counting_verify(secret: &str, stored: &str) -> bool {
        SCRYPT_RUNS.fetch_add(1, Ordering::SeqCst);
        verify_secret(secret, stored)
    }

    #[tokio::test]
    async fn scrypt_runs_once_per_client_and_secret() {
        // Only this test uses SCRYPT_RUNS, so parallel tests cannot disturb the count.
        let mut catalog = Clients::standard();
        let cache = VerifyCache::new(16, Duration::from_secs(60));
        let runs = || SCRYPT_RUNS.load(Ordering::SeqCst);

        run(&catalog, &cache, KNOWN_SECRET).await.unwrap();
        assert_eq!(runs(), 1);
        run(&catalog, &cache, KNOWN_SECRET).await.unwrap();
        assert_eq!(runs(), 1, "the second success came from the cache");

        // Failures are not cached: each wrong attempt pays scrypt.
        assert!(run(&catalog, &cache, "wrong").await.is_err());
        assert!(run(&catalog, &cache, "wrong").await.is_err());
        assert_eq!(runs(), 3);

        // Rotating the secret invalidates the cached success for the old one.
        let rotated = Secret::new("sec_00000000000000000000".to_owned());
        let record = catalog.clients.get_mut(CLIENT_ID).unwrap();
        record.secret = Some(hash_secret(&rotated));
        assert!(matches!(
            run(&catalog, &cache, KNOWN_SECRET).await,
            Err(AuthError::BadSecret)
        ));
        assert_eq!(runs(), 4);
        run(&catalog, &cache, "sec_00000000000000000000")
            .await
            .unwrap();
        run(&catalog, &cache, "sec_00000000000000000000")
            .await
            .unwrap();
        assert_eq!(runs(), 5);
    }
}
