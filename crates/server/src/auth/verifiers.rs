//! The threads scrypt runs on, one per turn, so that its memory stays bounded.

use std::sync::{Arc, Mutex, PoisonError};

use super::Secret;

/// One verification for a [`Verifiers`] thread: the secret, the stored hash, the verifier,
/// the turn it holds, and where the answer goes.
pub(super) type Job = (
    Secret,
    String,
    fn(&str, &str) -> bool,
    tokio::sync::OwnedSemaphorePermit,
    tokio::sync::oneshot::Sender<bool>,
);

/// Threads of their own for scrypt, one per turn. Each run takes 16 MiB, and the allocator
/// keeps what a thread freed for that thread: on the shared blocking pool every thread that
/// ever verified kept its 16 MiB (180 MiB under a flood of wrong secrets); here the process
/// holds at most turns × 16 MiB. The threads end when the last sender is dropped.
#[derive(Clone)]
pub(super) struct Verifiers {
    pub(super) jobs: std::sync::mpsc::SyncSender<Job>,
}

impl Verifiers {
    pub(super) fn start(threads: usize) -> Verifiers {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(threads);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("quarry-scrypt-{i}"))
                .spawn(move || {
                    loop {
                        // Only the lock is held while waiting; a poisoned lock is still a
                        // valid receiver.
                        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok((secret, stored, verify, turn, answer)) = job else {
                            return;
                        };
                        let verified = verify(secret.expose(), &stored);
                        drop(turn);
                        // The request may have gone away meanwhile.
                        let _ = answer.send(verified);
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a verification thread");
            }
        }
        Verifiers { jobs }
    }
}
