//! The TfL Unified API client: [`TflClient`] fetches line statuses and bike point occupancy
//! through a cache ([`cache`]), over one keep-alive HTTP client ([`upstream`]). Ids reach it
//! already validated by the functions; it builds the upstream path, which is also the cache key.
//!
//! The app key travels only in the upstream URL's query and is scrubbed from every error.

pub mod cache;
mod error;
pub mod model;
mod upstream;

use std::{sync::Arc, time::Duration};

pub use cache::{Cached, Source};
pub use error::TflError;
pub use model::{BikePointOccupancy, Line, LineStatus, ValidityPeriod};
pub use upstream::TflConfig;

/// How long an answer stays fresh when TfL does not send `max-age`.
pub const LINE_STATUS_FRESH_FOR: Duration = Duration::from_secs(30);
pub const OCCUPANCY_FRESH_FOR: Duration = Duration::from_secs(60);
/// An hour at most, whatever TfL says: line status is news.
const MAX_FRESH_FOR: Duration = Duration::from_secs(3600);
/// Distinct upstream URLs held per cache.
const CACHE_ENTRIES: usize = 256;
/// Upstream body bytes held per cache. `mode=bus` alone is several hundred KB, and ids can be
/// combined freely, so the entry count alone does not bound memory.
const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Line statuses in TfL's order, shared between cache and callers.
pub type Lines = Arc<LineStatuses>;

/// The ways `status` renders one TfL answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendering {
    Short,
    Detail,
    Text,
}

/// A cached TfL line-status answer, with each rendering of it made once: a warm `status`
/// request then costs a cache lookup and a reference count, not a re-serialisation.
#[derive(Debug)]
pub struct LineStatuses {
    lines: Vec<Line>,
    rendered: [std::sync::OnceLock<bytes::Bytes>; 3],
}

impl LineStatuses {
    pub fn new(lines: Vec<Line>) -> Self {
        Self {
            lines,
            rendered: Default::default(),
        }
    }

    /// `render`'s output for this answer, computed on first use.
    pub fn rendered(
        &self,
        rendering: Rendering,
        render: impl FnOnce(&[Line]) -> bytes::Bytes,
    ) -> bytes::Bytes {
        self.rendered[rendering as usize]
            .get_or_init(|| render(&self.lines))
            .clone()
    }
}

impl std::ops::Deref for LineStatuses {
    type Target = [Line];

    fn deref(&self) -> &[Line] {
        &self.lines
    }
}

impl<'de> serde::Deserialize<'de> for LineStatuses {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Line>::deserialize(deserializer).map(Self::new)
    }
}
/// Bike point occupancy in TfL's order.
pub type Occupancy = Arc<Vec<BikePointOccupancy>>;

#[derive(Debug)]
pub struct TflClient {
    upstream: Arc<upstream::Upstream>,
    lines: Arc<cache::Cache<Lines>>,
    occupancy: Arc<cache::Cache<Occupancy>>,
}

impl TflClient {
    /// Builds the HTTP client (TLS roots, pool). No network traffic happens here.
    pub fn new(config: &TflConfig) -> Result<Self, TflError> {
        Ok(Self {
            upstream: Arc::new(upstream::Upstream::new(config)?),
            lines: Arc::new(cache::Cache::new(CACHE_ENTRIES, CACHE_BYTES)),
            occupancy: Arc::new(cache::Cache::new(CACHE_ENTRIES, CACHE_BYTES)),
        })
    }

    /// `/Line/Mode/{modes}/Status`; `modes` are validated, lower-case TfL mode names.
    pub async fn status_by_mode(&self, modes: &[String]) -> Result<Cached<Lines>, TflError> {
        self.lines(format!("/Line/Mode/{}/Status", modes.join(",")))
            .await
    }

    /// `/Line/{ids}/Status`; `ids` are validated, lower-case line ids.
    pub async fn status_by_line(&self, ids: &[String]) -> Result<Cached<Lines>, TflError> {
        self.lines(format!("/Line/{}/Status", ids.join(","))).await
    }

    /// `/Occupancy/BikePoints/{ids}`; `ids` are validated `BikePoints_<n>`.
    pub async fn bike_points(&self, ids: &[String]) -> Result<Cached<Occupancy>, TflError> {
        let path = format!("/Occupancy/BikePoints/{}", ids.join(","));
        let fetch = fetch_json(
            Arc::clone(&self.upstream),
            path.clone(),
            OCCUPANCY_FRESH_FOR,
        );
        self.occupancy.get_or_fetch(&path, fetch).await
    }

    async fn lines(&self, path: String) -> Result<Cached<Lines>, TflError> {
        let fetch = fetch_json(
            Arc::clone(&self.upstream),
            path.clone(),
            LINE_STATUS_FRESH_FOR,
        );
        self.lines.get_or_fetch(&path, fetch).await
    }
}

/// GET `path` and parse it as `T`; fresh for TfL's `max-age`, else `default_fresh_for`.
async fn fetch_json<T: serde::de::DeserializeOwned>(
    upstream: Arc<upstream::Upstream>,
    path: String,
    default_fresh_for: Duration,
) -> Result<cache::Fill<Arc<T>>, TflError> {
    let fetched = upstream.get(&path).await?;
    let value: T = serde_json::from_slice(&fetched.body).map_err(|error| {
        TflError::BadGateway(format!(
            "TfL sent a body we cannot read for {path}: {error}"
        ))
    })?;
    let fresh_for = fetched
        .max_age
        .unwrap_or(default_fresh_for)
        .min(MAX_FRESH_FOR);
    Ok(cache::Fill {
        value: Arc::new(value),
        fresh_for,
        age: fetched.age,
        weight: fetched.body.len(),
    })
}
