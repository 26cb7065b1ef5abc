//! Queries in flight per client: one client cannot hold every database connection.
//!
//! A request takes a slot after authentication and keeps it until its response is built;
//! beyond `max` slots the client gets a 429 with `Retry-After` instead of waiting for a
//! connection that its own requests hold. The map only has entries for clients with a
//! request in flight, so it is bounded by the connections the server has open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Slots per client.
#[derive(Debug)]
pub struct ClientSlots {
    max: usize,
    held: Mutex<HashMap<String, usize>>,
}

/// One request's slot, given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<ClientSlots>,
    client: String,
}

impl ClientSlots {
    /// At most `max` requests in flight per client.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(ClientSlots {
            max,
            held: Mutex::new(HashMap::new()),
        })
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        // The map is valid after any panic.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for `client`, or `None` when it already has `max` requests in flight.
    pub fn try_take(self: &Arc<Self>, client: &str) -> Option<Slot> {
        let mut held = self.held();
        let count = held.entry(client.to_string()).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            slots: Arc::clone(self),
            client: client.to_string(),
        })
    }

    /// Requests in flight for `client`.
    pub fn in_flight(&self, client: &str) -> usize {
        self.held().get(client).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.slots.held();
        if let Some(count) = held.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_client_and_given_back() {
        let slots = ClientSlots::new(2);
        let a1 = slots.try_take("a");
        let a2 = slots.try_take("a");
        assert!(a1.is_some() && a2.is_some());
        assert!(slots.try_take("a").is_none());
        // Another client is not affected.
        let b = slots.try_take("b");
        assert!(b.is_some());
        drop(a1);
        assert_eq!(slots.in_flight("a"), 1);
        assert!(slots.try_take("a").is_some());
        drop((a2, b));
        assert!(slots.held().is_empty());
    }
}
