//! Client authentication for the export endpoints (contract §3).
//!
//! Secrets are stored exactly as OpenPanel stores them — `<salt>.<hash>`, scrypt with
//! N=16384, r=8, p=1 over the UTF-8 secret, the 32 hex characters of the salt used as the
//! salt bytes — so the `clients` rows of an existing OpenPanel deployment authenticate
//! unchanged, and secrets Quarry creates work in OpenPanel too.
//!
//! scrypt is slow on purpose (tens of milliseconds). [`VerifyCache`] remembers successful
//! verifications so the cost is paid once per client and secret, not once per request; it
//! holds keyed fingerprints, never secrets. The derivation itself runs on threads of its
//! own so it never stalls the request workers.
//!
//! `secret` hashes and verifies, `cache` remembers, `verifiers` runs scrypt, and
//! `authenticator` puts them together in the order of §3.3.

mod authenticator;
mod cache;
mod secret;
mod verifiers;

use quarry_core::storage::StorageError;
use uuid::Uuid;

pub use authenticator::{Authenticator, CACHE_ENTRIES, VERIFY_WAIT};
pub use cache::VerifyCache;
pub use secret::{Secret, generate_secret, hash_secret, verify_secret};

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
    /// Every turn to run scrypt was taken for longer than [`VERIFY_WAIT`] (→ 429).
    #[error("Too many authentication attempts in progress; retry shortly")]
    Busy,
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
pub fn canonical_client_id(id: &str) -> Option<String> {
    const HYPHENATED_LEN: usize = 36;
    if id.len() != HYPHENATED_LEN {
        return None;
    }
    Uuid::try_parse(id)
        .ok()
        .map(|uuid| uuid.hyphenated().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
