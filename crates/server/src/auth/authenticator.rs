//! The authenticator: the checks of §3.3 in their order, the caches in front of scrypt,
//! and the turns that bound how many scrypt runs happen at once.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use quarry_core::catalog::{Catalog, ClientKind, ClientRecord};

use super::cache::VerifyCache;
use super::secret::{Secret, verify_secret};
use super::verifiers::Verifiers;
use super::{AuthError, canonical_client_id};

/// Authentication under attack (§3.2, §3.3).
///
/// - Successful verifications are cached for five minutes (§3.2).
/// - Failed ones are remembered for a minute by client id, stored hash and a fingerprint of
///   the presented secret, so repeating a wrong secret costs no scrypt run.
/// - scrypt runs on threads of its own, one run per core but one at a time (the other
///   core keeps serving), each using 16 MiB; a request waits at most [`VERIFY_WAIT`] for
///   its turn, then gets a 429 with `Retry-After`.
///
/// Every cache is bounded. Cloning shares the state.
#[derive(Clone)]
pub struct Authenticator {
    verified: VerifyCache,
    failed: VerifyCache,
    /// (client id, secret) pairs that verified recently, whatever the stored hash: a
    /// client that proved its secret is not throttled with the strangers at its address.
    known: VerifyCache,
    scrypt: Arc<tokio::sync::Semaphore>,
    verifiers: Verifiers,
    verify: fn(&str, &str) -> bool,
    /// Secret checks answered by a cache, and by running scrypt (`/metrics`).
    hits: Arc<AtomicU64>,
    misses: Arc<AtomicU64>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("verified", &self.verified)
            .field("failed", &self.failed)
            .field("scrypt_permits", &self.scrypt.available_permits())
            .finish_non_exhaustive()
    }
}

/// How long a request waits for a turn to run scrypt before it is told to retry.
pub const VERIFY_WAIT: Duration = Duration::from_secs(2);

/// Entries each cache of [`Authenticator`] holds at most.
pub const CACHE_ENTRIES: usize = 10_000;

impl Default for Authenticator {
    fn default() -> Self {
        Authenticator::with_verifier(verify_secret)
    }
}

impl Authenticator {
    /// An authenticator with its own caches.
    pub fn new() -> Self {
        Authenticator::default()
    }

    /// With the verifier passed in, so tests can count scrypt runs.
    fn with_verifier(verify: fn(&str, &str) -> bool) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let turns = cores.saturating_sub(1).max(1);
        Authenticator {
            verified: VerifyCache::new(CACHE_ENTRIES, Duration::from_secs(300)),
            failed: VerifyCache::new(CACHE_ENTRIES, Duration::from_secs(60)),
            known: VerifyCache::new(CACHE_ENTRIES, Duration::from_secs(300)),
            scrypt: Arc::new(tokio::sync::Semaphore::new(turns)),
            verifiers: Verifiers::start(turns),
            verify,
            hits: Arc::default(),
            misses: Arc::default(),
        }
    }

    /// Secret checks answered so far from a cache (hits) and by scrypt (misses).
    pub fn cache_counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Whether this client id and secret verified recently (a cheap check, before any
    /// catalog lookup).
    pub fn is_known(&self, client_id: Option<&str>, secret: Option<&str>) -> bool {
        match (client_id.and_then(canonical_client_id), secret) {
            (Some(id), Some(secret)) => self.known.contains(&id, secret, ""),
            _ => false,
        }
    }

    /// Authenticate an export request (§3.3), returning the client.
    ///
    /// Checks, in order: client-id header missing or not a UUID →
    /// [`AuthError::BadClientId`]; no such client → [`AuthError::UnknownClient`]; client
    /// without a secret → [`AuthError::NoSecret`]; a `write` client →
    /// [`AuthError::WriteClient`]; secret missing or wrong → [`AuthError::BadSecret`].
    /// scrypt runs only when neither cache knows this client, secret and stored hash, and
    /// [`AuthError::Busy`] when no turn came within [`VERIFY_WAIT`].
    pub async fn authenticate(
        &self,
        catalog: &dyn Catalog,
        client_id: Option<&str>,
        secret: Option<&str>,
    ) -> Result<ClientRecord, AuthError> {
        self.authenticate_within(catalog, client_id, secret, VERIFY_WAIT)
            .await
    }

    /// [`Authenticator::authenticate`], waiting at most `wait` for a turn to run scrypt
    /// (zero: only when a turn is free right away).
    pub async fn authenticate_within(
        &self,
        catalog: &dyn Catalog,
        client_id: Option<&str>,
        secret: Option<&str>,
        wait: Duration,
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
        if self.verified.contains(&client.id, secret, &stored) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(client);
        }
        if self.failed.contains(&client.id, secret, &stored) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Err(AuthError::BadSecret);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);

        let turn = if wait.is_zero() {
            self.scrypt.clone().try_acquire_owned().ok()
        } else {
            let turn = tokio::time::timeout(wait, self.scrypt.clone().acquire_owned()).await;
            turn.ok().and_then(Result::ok)
        };
        let Some(turn) = turn else {
            return Err(AuthError::Busy);
        };
        let presented = Secret::new(secret.to_owned());
        let (answer, verified) = tokio::sync::oneshot::channel();
        // Holding a turn means a thread is free: the channel has room for every turn.
        let job = (presented, stored.clone(), self.verify, turn, answer);
        let verified = match self.verifiers.jobs.try_send(job) {
            Ok(()) => verified.await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match verified {
            Ok(true) => {
                self.verified.insert(&client.id, secret, &stored);
                self.known.insert(&client.id, secret, "");
                Ok(client)
            }
            Ok(false) => {
                self.failed.insert(&client.id, secret, &stored);
                Err(AuthError::BadSecret)
            }
            Err(error) => {
                // The verifier panicked or the runtime is shutting down: fail closed.
                tracing::error!(client_id = %client.id, %error, "secret verification did not complete");
                Err(AuthError::BadSecret)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use quarry_core::catalog::ProjectRecord;
    use quarry_core::storage::StorageError;

    use super::*;
    use crate::auth::hash_secret;
    use crate::auth::secret::{KNOWN_SECRET, KNOWN_STORED};

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
        Authenticator::new()
            .authenticate(&Clients::standard(), id, secret)
            .await
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
    async fn storage_failures_pass_through() {
        let catalog = Clients {
            unavailable: true,
            ..Clients::default()
        };
        let r = Authenticator::new()
            .authenticate(&catalog, Some(CLIENT_ID), Some(KNOWN_SECRET))
            .await;
        assert!(
            matches!(r, Err(AuthError::Storage(StorageError::Unavailable(_)))),
            "{r:?}"
        );
    }

    async fn run(
        catalog: &Clients,
        auth: &Authenticator,
        secret: &str,
    ) -> Result<ClientRecord, AuthError> {
        auth.authenticate(catalog, Some(CLIENT_ID), Some(secret))
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
        let auth = Authenticator::with_verifier(counting_verify);
        let runs = || SCRYPT_RUNS.load(Ordering::SeqCst);

        run(&catalog, &auth, KNOWN_SECRET).await.unwrap();
        assert_eq!(runs(), 1);
        run(&catalog, &auth, KNOWN_SECRET).await.unwrap();
        assert_eq!(runs(), 1, "the second success came from the cache");

        // A wrong secret pays scrypt once; repeating it is answered from memory.
        assert!(run(&catalog, &auth, "wrong").await.is_err());
        assert!(run(&catalog, &auth, "wrong").await.is_err());
        assert_eq!(runs(), 2);
        assert!(run(&catalog, &auth, "wrong too").await.is_err());
        assert_eq!(runs(), 3);

        // Rotating the secret invalidates the cached success for the old one.
        let rotated = Secret::new("sec_00000000000000000000".to_owned());
        let record = catalog.clients.get_mut(CLIENT_ID).unwrap();
        record.secret = Some(hash_secret(&rotated));
        assert!(matches!(
            run(&catalog, &auth, KNOWN_SECRET).await,
            Err(AuthError::BadSecret)
        ));
        assert_eq!(runs(), 4);
        // ...and the remembered failure of a secret that is now right.
        record_secret(&mut catalog, "wrong");
        run(&catalog, &auth, "wrong").await.unwrap();
        assert_eq!(runs(), 5);
        run(&catalog, &auth, "wrong").await.unwrap();
        assert_eq!(runs(), 5);
        // Known pairs skip the throttle, whatever the stored hash says.
        assert!(auth.is_known(Some(CLIENT_ID), Some(KNOWN_SECRET)));
        assert!(auth.is_known(Some(&CLIENT_ID.to_ascii_uppercase()), Some("wrong")));
        assert!(!auth.is_known(Some(CLIENT_ID), Some("wrong too")));
        assert!(!auth.is_known(None, Some(KNOWN_SECRET)));
    }

    fn record_secret(catalog: &mut Clients, secret: &str) {
        let record = catalog.clients.get_mut(CLIENT_ID).unwrap();
        record.secret = Some(hash_secret(&Secret::new(secret.to_owned())));
    }

    #[tokio::test]
    async fn verifications_wait_their_turn_then_are_refused() {
        let auth = Authenticator::new();
        let catalog = Clients::standard();
        // Every turn taken: the request gives up after VERIFY_WAIT with Busy.
        let permits = auth.scrypt.available_permits();
        let held = auth
            .scrypt
            .clone()
            .acquire_many_owned(permits as u32)
            .await
            .unwrap();
        let r = auth
            .authenticate(&catalog, Some(CLIENT_ID), Some(KNOWN_SECRET))
            .await;
        assert!(matches!(r, Err(AuthError::Busy)), "{r:?}");
        drop(held);
        auth.authenticate(&catalog, Some(CLIENT_ID), Some(KNOWN_SECRET))
            .await
            .unwrap();
    }
}
