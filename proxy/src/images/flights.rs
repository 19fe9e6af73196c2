//! One transform at a time per variant: concurrent first requests for the same
//! variant wait for the one making it and are answered from what it stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::OwnedMutexGuard;

/// The variant's combined cache hash.
type Key = [u8; 16];

type Flight = Arc<tokio::sync::Mutex<()>>;

/// Held while one request makes a variant; dropping it lets the next waiter in.
pub(crate) struct Turn {
    key: Key,
    guard: OwnedMutexGuard<()>,
}

/// Waits for this variant's turn: at once if no one is making it, else after the
/// request making it is done (stored, failed or given up), so the caller looks in
/// the cache again before making it itself.
pub(crate) async fn turn(key: Key) -> Turn {
    let flight = {
        let mut map = flights().lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key).or_default().clone()
    };
    Turn {
        key,
        guard: flight.lock_owned().await,
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut map = flights().lock().unwrap_or_else(|p| p.into_inner());
        // The map, this turn and its waiters hold the flight: the last one out (only
        // the map and this turn left) removes it, so the map holds only live flights.
        // (A turn whose flight the map no longer holds sees 1 and leaves the map be.)
        if Arc::strong_count(OwnedMutexGuard::mutex(&self.guard)) == 2 {
            map.remove(&self.key);
        }
    }
}

fn flights() -> &'static Mutex<HashMap<Key, Flight>> {
    static FLIGHTS: OnceLock<Mutex<HashMap<Key, Flight>>> = OnceLock::new();
    FLIGHTS.get_or_init(Mutex::default)
}

/// How many variants are being made now (for tests).
#[cfg(test)]
fn in_flight() -> usize {
    flights().lock().map_or(0, |m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waiters_go_one_at_a_time_and_the_map_empties() {
        let first = turn([1; 16]).await;
        let waiter = tokio::spawn(async { turn([1; 16]).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "a second turn waits for the first");
        // Another variant does not wait.
        drop(turn([2; 16]).await);
        drop(first);
        let second = waiter.await.expect("join");
        drop(second);
        assert_eq!(in_flight(), 0);
    }
}
