//! A small in-process cache for state-store lookups that sit on the request path (gateway
//! keys, virtual keys, saved configs): each entry lives for a short TTL, so a change made with
//! the CLI, or on another replica, is seen everywhere within that time, while a burst of
//! requests costs one database round trip instead of one each.
//!
//! Bounded: at the limit, expired entries are dropped, and if that frees nothing the cache
//! starts over (a flood of distinct lookups can cost hits, never memory). Negative answers
//! ("no such id") are cached like positive ones, so unknown ids do not reach the database on
//! every request either.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Entries kept at most, per cache.
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// Values by key, each for `ttl` after it was inserted.
pub(crate) struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> fmt::Debug for TtlCache<K, V> {
    /// Sizes only: values may hold credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlCache")
            .field("ttl", &self.ttl)
            .field("entries", &lock(&self.entries).len())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value cached for `key`, if it has not expired.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        lock(&self.entries)
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(value, _)| value.clone())
    }

    /// Caches `value` for `key` from now.
    pub(crate) fn insert(&self, key: K, value: V) {
        let mut entries = lock(&self.entries);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.retain(|_, (_, at)| at.elapsed() < self.ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now()));
    }

    /// Forgets `key`.
    pub(crate) fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        lock(&self.entries).remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.entries).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = TtlCache::new(Duration::from_millis(30));
        cache.insert("a".to_owned(), 1);
        assert_eq!(cache.get("a"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get("a"), None);
    }

    #[test]
    fn a_full_cache_never_grows_past_its_bound() {
        let cache = TtlCache::new(Duration::from_secs(60));
        for i in 0..MAX_ENTRIES + 50 {
            cache.insert(i, i);
        }
        assert!(cache.len() <= MAX_ENTRIES, "{}", cache.len());
        // The newest entry survives the reset.
        assert_eq!(cache.get(&(MAX_ENTRIES + 49)), Some(MAX_ENTRIES + 49));
    }

    #[test]
    fn debug_shows_no_values() {
        let cache = TtlCache::new(Duration::from_secs(1));
        cache.insert("k", "sk-secret-value".to_owned());
        let shown = format!("{cache:?}");
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert!(shown.contains("entries: 1"), "{shown}");
    }
}
