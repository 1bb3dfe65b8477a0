//! A small in-memory cache for TfL answers, written for what this client needs and general
//! caches make awkward:
//! - single flight: concurrent misses for one key share one upstream call, which runs in its
//!   own task so a caller that gives up does not cancel it for the others;
//! - freshness per entry (TfL's `max-age`, else a default), and the entry's age, so responses
//!   can say `Age` and `max-age=<remaining>`;
//! - stale on error: an entry past its freshness is kept until [`STALE_FOR`] old and served when
//!   TfL is failing;
//! - bounded: at most `capacity` entries weighing at most `max_weight` (the upstream body
//!   bytes, an over-estimate of what the parsed value holds); a full cache drops entries too old
//!   to serve, then the oldest.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::{sync::watch, time::Instant};

use super::error::TflError;

/// How old an entry may be and still be served (stale) when TfL fails.
pub const STALE_FOR: Duration = Duration::from_secs(10 * 60);

/// Where an answer came from; sent as `X-Cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Fresh from the cache.
    Hit,
    /// From TfL, by this call or one it joined.
    Miss,
    /// TfL failed; this is an older answer.
    Stale,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Stale => "STALE",
        }
    }
}

/// What a fetch produces: the value, how long it stays fresh, how old it already is, and what
/// it weighs against the cache's bound.
#[derive(Debug)]
pub struct Fill<V> {
    pub value: V,
    pub fresh_for: Duration,
    pub age: Duration,
    pub weight: usize,
}

/// A value with its freshness, as the caller sees it.
#[derive(Debug, Clone)]
pub struct Cached<V> {
    pub value: V,
    /// Time since TfL produced it (including any `Age` TfL reported).
    pub age: Duration,
    /// How much longer it counts as fresh (zero when stale).
    pub remaining: Duration,
    pub source: Source,
}

#[derive(Debug, Clone)]
struct Entry<V> {
    value: V,
    stored: Instant,
    fresh_for: Duration,
    weight: usize,
}

impl<V: Clone> Entry<V> {
    fn serve(&self, source: Source, now: Instant) -> Cached<V> {
        let age = now.saturating_duration_since(self.stored);
        Cached {
            value: self.value.clone(),
            age,
            remaining: self.fresh_for.saturating_sub(age),
            source,
        }
    }

    fn is_fresh(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.stored) < self.fresh_for
    }

    fn is_servable_stale(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.stored) < STALE_FOR
    }
}

type Outcome<V> = Option<Result<Entry<V>, TflError>>;

struct State<V> {
    entries: HashMap<String, Entry<V>>,
    /// Calls in progress; joiners wait on the receiver.
    flights: HashMap<String, watch::Receiver<Outcome<V>>>,
}

pub struct Cache<V> {
    state: Mutex<State<V>>,
    capacity: usize,
    max_weight: usize,
}

impl<V> std::fmt::Debug for Cache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("capacity", &self.capacity)
            .field("max_weight", &self.max_weight)
            .finish_non_exhaustive()
    }
}

impl<V: Clone + Send + Sync + 'static> Cache<V> {
    pub fn new(capacity: usize, max_weight: usize) -> Self {
        Self {
            state: Mutex::new(State {
                entries: HashMap::new(),
                flights: HashMap::new(),
            }),
            capacity: capacity.max(1),
            max_weight,
        }
    }

    /// The fresh value for `key`, else the result of `fetch` (shared with every concurrent
    /// caller for the same key), else, if `fetch` fails with an outage, a stale value.
    /// `fetch` resolves to the value, how long it stays fresh and how old it is already.
    pub async fn get_or_fetch<F>(
        self: &Arc<Self>,
        key: &str,
        fetch: F,
    ) -> Result<Cached<V>, TflError>
    where
        F: Future<Output = Result<Fill<V>, TflError>> + Send + 'static,
    {
        let mut receiver = {
            let mut state = self.lock();
            let now = Instant::now();
            if let Some(entry) = state.entries.get(key).filter(|e| e.is_fresh(now)) {
                return Ok(entry.serve(Source::Hit, now));
            }
            match state.flights.get(key) {
                Some(receiver) => receiver.clone(),
                None => {
                    let (sender, receiver) = watch::channel(None);
                    state.flights.insert(key.to_owned(), receiver.clone());
                    let cache = Arc::clone(self);
                    let key = key.to_owned();
                    tokio::spawn(async move {
                        let outcome = fetch.await.map(|fill| {
                            // Back-dated by the upstream age, so Age and max-age stay truthful.
                            let now = Instant::now();
                            Entry {
                                value: fill.value,
                                stored: now.checked_sub(fill.age).unwrap_or(now),
                                fresh_for: fill.fresh_for,
                                weight: fill.weight,
                            }
                        });
                        cache.land(&key, &outcome);
                        // Nobody waiting is fine: the entry is stored for the next caller.
                        let _ = sender.send(Some(outcome));
                    });
                    receiver
                }
            }
        };

        let outcome = match receiver.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone(),
            // The task ended without an answer: it panicked. Never leave the flight behind.
            Err(_) => {
                self.lock().flights.remove(key);
                Some(Err(TflError::BadGateway(
                    "the TfL call ended without an answer".to_owned(),
                )))
            }
        };
        match outcome {
            Some(Ok(entry)) => Ok(entry.serve(Source::Miss, Instant::now())),
            Some(Err(error)) if error.is_outage() => {
                let now = Instant::now();
                let state = self.lock();
                match state.entries.get(key).filter(|e| e.is_servable_stale(now)) {
                    Some(entry) => {
                        tracing::warn!(%error, key, "TfL failed; serving a stale answer");
                        Ok(entry.serve(Source::Stale, now))
                    }
                    None => Err(error),
                }
            }
            Some(Err(error)) => Err(error),
            None => Err(TflError::BadGateway("no answer".to_owned())),
        }
    }

    /// Ends the flight for `key`, storing a success, in one step: a caller arriving after this
    /// either finds the entry or starts a new flight.
    fn land(&self, key: &str, outcome: &Result<Entry<V>, TflError>) {
        let mut state = self.lock();
        state.flights.remove(key);
        if let Ok(entry) = outcome {
            state.entries.remove(key);
            if entry.weight > self.max_weight {
                // Served to this flight's callers, but too big to keep.
                tracing::warn!(key, weight = entry.weight, "TfL answer too large to cache");
                return;
            }
            evict(
                &mut state.entries,
                self.capacity - 1,
                self.max_weight - entry.weight,
            );
            state.entries.insert(key.to_owned(), entry.clone());
        }
    }

    /// Number of entries held (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State<V>> {
        // The state stays consistent under panics (every change is one insert or remove).
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Shrinks `entries` to at most `max_len` entries weighing at most `max_weight`: first
/// everything too old even to serve stale, then the oldest.
fn evict<V>(entries: &mut HashMap<String, Entry<V>>, max_len: usize, max_weight: usize) {
    let now = Instant::now();
    entries.retain(|_, entry| now.saturating_duration_since(entry.stored) < STALE_FOR);
    let mut weight: usize = entries.values().map(|entry| entry.weight).sum();
    while entries.len() > max_len || weight > max_weight {
        let Some(oldest) = entries
            .iter()
            .min_by_key(|(_, entry)| entry.stored)
            .map(|(key, _)| key.clone())
        else {
            break;
        };
        if let Some(removed) = entries.remove(&oldest) {
            weight -= removed.weight;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counted(
        calls: &Arc<AtomicUsize>,
        result: Result<u32, TflError>,
        fresh_for: Duration,
    ) -> impl Future<Output = Result<Fill<u32>, TflError>> + Send + 'static {
        weighing(calls, result, fresh_for, 1)
    }

    fn weighing(
        calls: &Arc<AtomicUsize>,
        result: Result<u32, TflError>,
        fresh_for: Duration,
        weight: usize,
    ) -> impl Future<Output = Result<Fill<u32>, TflError>> + Send + 'static {
        let calls = Arc::clone(calls);
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            result.map(|value| Fill {
                value,
                fresh_for,
                age: Duration::ZERO,
                weight,
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn fresh_hits_and_concurrent_misses_share_one_call() {
        let cache = Arc::new(Cache::new(8, 1000));
        let calls = Arc::new(AtomicUsize::new(0));
        let joins: Vec<_> = (0..50)
            .map(|_| {
                let cache = Arc::clone(&cache);
                let fetch = counted(&calls, Ok(7), Duration::from_secs(30));
                tokio::spawn(async move { cache.get_or_fetch("k", fetch).await })
            })
            .collect();
        for join in joins {
            let cached = join.await.unwrap().unwrap();
            assert_eq!(cached.value, 7);
            assert_eq!(cached.source, Source::Miss);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        tokio::time::advance(Duration::from_secs(10)).await;
        let hit = cache
            .get_or_fetch("k", counted(&calls, Ok(8), Duration::from_secs(30)))
            .await
            .unwrap();
        assert_eq!((hit.value, hit.source), (7, Source::Hit));
        assert_eq!(hit.age.as_secs(), 10);
        assert_eq!(hit.remaining.as_secs(), 20);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn outages_serve_stale_for_ten_minutes_and_other_errors_do_not() {
        let cache = Arc::new(Cache::new(8, 1000));
        let calls = Arc::new(AtomicUsize::new(0));
        let fresh = Duration::from_secs(30);
        cache
            .get_or_fetch("k", counted(&calls, Ok(1), fresh))
            .await
            .unwrap();

        tokio::time::advance(Duration::from_secs(60)).await;
        let outage = TflError::BadGateway("boom".into());
        let stale = cache
            .get_or_fetch("k", counted(&calls, Err(outage.clone()), fresh))
            .await
            .unwrap();
        assert_eq!((stale.value, stale.source), (1, Source::Stale));
        assert_eq!(stale.remaining, Duration::ZERO);

        let not_found = TflError::NotFound("gone".into());
        assert!(cache
            .get_or_fetch("k", counted(&calls, Err(not_found), fresh))
            .await
            .is_err());

        tokio::time::advance(STALE_FOR).await;
        assert!(cache
            .get_or_fetch("k", counted(&calls, Err(outage), fresh))
            .await
            .is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn the_size_is_bounded_and_the_oldest_goes_first() {
        let cache = Arc::new(Cache::new(2, 1000));
        let calls = Arc::new(AtomicUsize::new(0));
        for key in ["a", "b", "c"] {
            cache
                .get_or_fetch(key, counted(&calls, Ok(1), Duration::from_secs(60)))
                .await
                .unwrap();
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(cache.len(), 2);
        cache
            .get_or_fetch("a", counted(&calls, Ok(1), Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            4,
            "a was evicted, so fetched again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_weight_is_bounded_too() {
        let cache = Arc::new(Cache::new(8, 100));
        let calls = Arc::new(AtomicUsize::new(0));
        let fresh = Duration::from_secs(60);
        for key in ["a", "b", "c"] {
            cache
                .get_or_fetch(key, weighing(&calls, Ok(1), fresh, 40))
                .await
                .unwrap();
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(cache.len(), 2, "120 > 100: the oldest went");
        // Too heavy to keep at all, but still answered.
        let big = cache
            .get_or_fetch("big", weighing(&calls, Ok(9), fresh, 101))
            .await
            .unwrap();
        assert_eq!(big.value, 9);
        assert_eq!(cache.len(), 2);
    }
}
