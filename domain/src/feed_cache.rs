//! Records read from the database moments ago, kept until the change feed says they changed.
//!
//! The feed's listener drops an entry the moment it reads the change's notice, before any
//! later notice (so after [`crate::live::LiveHub::sync`] nothing changed before it is
//! served). A look-up that read the database before a drop may not put back what was dropped:
//! each look-up takes a [`Ticket`] first, and a put is refused when its key, or everything,
//! was dropped after the ticket. While the listener is not connected nothing is kept or
//! served, since notices may be missed then. Entries are also read again after a maximum age,
//! for what changes without a notice.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys dropped one by one are remembered (against racing puts) up to this many; then they
/// are forgotten all at once and every older ticket is refused instead.
const MAX_REMEMBERED_DROPS: usize = 100_000;

#[derive(Debug)]
pub struct FeedCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    max_entries: usize,
}

#[derive(Debug)]
struct Inner<K, V> {
    listening: bool,
    /// Counts drops.
    generation: u64,
    /// Tickets older than this are refused (something was dropped in bulk since).
    floor: u64,
    /// When each key was last dropped one by one.
    dropped: HashMap<K, u64>,
    entries: HashMap<K, (V, Instant)>,
}

/// When a look-up began, for [`FeedCache::put`].
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl<K: Eq + Hash + Clone, V: Clone> FeedCache<K, V> {
    /// A cache of at most `max_entries` (beyond that it starts over).
    pub fn new(max_entries: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                listening: false,
                generation: 0,
                floor: 0,
                dropped: HashMap::new(),
                entries: HashMap::new(),
            }),
            max_entries,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value kept for `key`, if it was read within `max_age` and not dropped since.
    pub fn get(&self, key: &K, max_age: Duration) -> Option<V> {
        let inner = self.lock();
        if !inner.listening {
            return None;
        }
        let (value, at) = inner.entries.get(key)?;
        (at.elapsed() < max_age).then(|| value.clone())
    }

    /// Taken before reading from the database.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().generation)
    }

    /// Keeps what a look-up read, unless the key (or everything) was dropped after its
    /// ticket was taken, or notices are not being heard.
    pub fn put(&self, ticket: Ticket, key: K, value: V) {
        let mut inner = self.lock();
        let dropped_since = ticket.0 < inner.floor
            || inner
                .dropped
                .get(&key)
                .is_some_and(|&dropped| dropped > ticket.0);
        if !inner.listening || dropped_since {
            return;
        }
        if inner.entries.len() >= self.max_entries {
            inner.entries.clear();
        }
        inner.entries.insert(key, (value, Instant::now()));
    }

    /// Drops one key.
    pub fn forget(&self, key: &K) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.remove(key);
        if inner.dropped.len() >= MAX_REMEMBERED_DROPS {
            inner.dropped.clear();
            inner.floor = inner.generation;
        }
        let generation = inner.generation;
        inner.dropped.insert(key.clone(), generation);
    }

    /// Drops every entry `matches` picks.
    pub fn forget_where(&self, matches: impl Fn(&K, &V) -> bool) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.floor = inner.generation;
        inner.entries.retain(|k, (v, _)| !matches(k, v));
    }

    /// Drops everything.
    pub fn forget_all(&self) {
        self.forget_where(|_, _| true);
    }

    /// The listener connected (`true`) or lost its connection (`false`). Either way what
    /// was kept goes: notices may have been missed.
    pub fn set_listening(&self, listening: bool) {
        self.forget_all();
        self.lock().listening = listening;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGE: Duration = Duration::from_secs(60);

    fn listening() -> FeedCache<u32, &'static str> {
        let cache = FeedCache::new(10);
        cache.set_listening(true);
        cache
    }

    #[test]
    fn nothing_is_kept_or_served_unless_notices_are_heard() {
        let cache = FeedCache::new(10);
        cache.put(cache.ticket(), 1, "a");
        assert_eq!(cache.get(&1, AGE), None);
        cache.set_listening(true);
        cache.put(cache.ticket(), 1, "a");
        assert_eq!(cache.get(&1, AGE), Some("a"));
        cache.set_listening(false);
        assert_eq!(cache.get(&1, AGE), None);
    }

    #[test]
    fn a_read_from_before_a_drop_is_not_kept_but_other_keys_are() {
        let cache = listening();
        let before = cache.ticket();
        cache.forget(&1);
        cache.put(before, 1, "old");
        assert_eq!(cache.get(&1, AGE), None, "read before the change");
        cache.put(before, 2, "b");
        assert_eq!(cache.get(&2, AGE), Some("b"), "another key was not dropped");
        cache.put(cache.ticket(), 1, "new");
        assert_eq!(cache.get(&1, AGE), Some("new"), "read after the change");
    }

    #[test]
    fn bulk_drops_refuse_every_older_read() {
        let cache = listening();
        cache.put(cache.ticket(), 1, "a");
        cache.put(cache.ticket(), 2, "b");
        let before = cache.ticket();
        cache.forget_where(|k, _| *k == 1);
        assert_eq!(cache.get(&1, AGE), None);
        assert_eq!(cache.get(&2, AGE), Some("b"));
        cache.put(before, 3, "c");
        assert_eq!(cache.get(&3, AGE), None);
    }

    #[test]
    fn old_entries_are_read_again_and_the_size_is_bounded() {
        let cache = listening();
        cache.put(cache.ticket(), 1, "a");
        assert_eq!(cache.get(&1, Duration::ZERO), None);
        for k in 0..25 {
            cache.put(cache.ticket(), k, "x");
        }
        assert!(cache.lock().entries.len() <= 10);
    }

    #[test]
    fn remembered_drops_are_bounded_without_letting_old_reads_back() {
        let cache = listening();
        let before = cache.ticket();
        for k in 0..(MAX_REMEMBERED_DROPS as u32 + 5) {
            cache.forget(&k);
        }
        assert!(cache.lock().dropped.len() <= MAX_REMEMBERED_DROPS);
        cache.put(before, 3, "old");
        assert_eq!(cache.get(&3, AGE), None);
    }
}
