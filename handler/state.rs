//! What every request shares: the services, built once at start from config.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;

use crate::{
    accounts::Accounts,
    config::Config,
    storage::wiring::LazyStorage,
    tfl::{TflClient, TflError},
};

/// Shared, cheaply clonable state handed to every function.
#[derive(Clone, Debug)]
pub struct AppState {
    pub tfl: Arc<TflClient>,
    pub storage: LazyStorage,
    pub accounts: Accounts,
    /// Set by [`crate::app`], which assembles the document with the router.
    pub openapi: OpenApiJson,
}

impl AppState {
    /// Builds every client from `config`. Nothing here touches the network (storage opens on
    /// first use), so it costs the readiness probe only a few milliseconds.
    pub fn new(config: &Config) -> Result<Self, TflError> {
        let storage = LazyStorage::new(config.storage.clone());
        Ok(Self {
            tfl: Arc::new(TflClient::new(&config.tfl)?),
            accounts: Accounts::new(storage.clone(), config.session_ttl, config.trust_easy_auth),
            storage,
            openapi: OpenApiJson::default(),
        })
    }
}

/// The OpenAPI document, serialised on first request rather than at start (start-up time is
/// the host's readiness budget).
#[derive(Clone, Default)]
pub struct OpenApiJson {
    document: Arc<utoipa::openapi::OpenApi>,
    json: Arc<OnceLock<Bytes>>,
}

impl OpenApiJson {
    pub fn new(document: utoipa::openapi::OpenApi) -> Self {
        Self {
            document: Arc::new(document),
            json: Arc::default(),
        }
    }

    pub fn json(&self) -> Bytes {
        self.json
            .get_or_init(|| {
                // A document of plain strings and maps always serialises.
                Bytes::from(serde_json::to_vec(&*self.document).unwrap_or_default())
            })
            .clone()
    }
}

impl std::fmt::Debug for OpenApiJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenApiJson")
    }
}
