//! An Azure Functions custom handler: the Functions host starts this binary and forwards HTTP
//! requests to it on loopback. Start here, then read one function module.
//!
//! - [`config`]: typed settings from the environment, validated once at start.
//! - [`host`]: the host contract: limits, the readiness probe on `/`, and the JSON invocation
//!   payload adapter ([`host::invocation`]) that feeds payloads through the same router.
//! - [`functions`]: one module per function (`hello`, `status`, `bikepoint`, `records`,
//!   `upload`, `users`, `openapi`), each with its `#[utoipa::path]` so the router and the
//!   OpenAPI document come from one place.
//! - [`auth`]: who is calling (bearer sessions, Easy Auth), argon2id passwords.
//! - [`tfl`]: the TfL Unified API client (timeouts, one retry, cache, app key) behind `status`
//!   and `bikepoint`.
//! - [`error`]: the one error type and its mapping to `{"error": {"code", "message"}}`.
//! - [`logging`]: one line per request, text or JSON, secrets redacted.
//! - [`storage`]: the data layer: domain services over Azure Table storage or embedded SQLite.
//! - [`package`]: assembles `dist/` and `dist.zip` for zip deploy and `func start`.
//!
//! [`app`] builds the whole service; `main.rs` only reads config, binds and calls [`serve`].

pub mod auth;
pub mod config;
pub mod error;
pub mod functions;
pub mod host;
pub mod logging;
pub mod package;
pub mod storage;
pub mod tfl;

use std::{
    future::{Future, IntoFuture},
    io,
    sync::Arc,
    time::Duration,
};

use axum::{
    http::StatusCode,
    middleware,
    routing::{any, get},
    serve::ListenerExt,
    Router,
};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::{catch_panic::CatchPanicLayer, limit::RequestBodyLimitLayer};

use crate::{config::Config, error::AppError, tfl::TflClient};

/// Shared, cheaply clonable state handed to every function. Clients built once at start
/// (storage, TfL) live here.
#[derive(Clone, Debug)]
pub struct AppState {
    pub tfl: Arc<TflClient>,
    pub storage: storage::LazyStorage,
    pub passwords: auth::passwords::Passwords,
    pub session_ttl: Duration,
    pub trust_easy_auth: bool,
}

impl AppState {
    /// Builds every client from `config`. Nothing here touches the network (storage opens on
    /// first use), so it costs the readiness probe only a few milliseconds.
    pub fn new(config: &Config) -> Result<Self, tfl::TflError> {
        Ok(Self {
            tfl: Arc::new(TflClient::new(&config.tfl)?),
            storage: storage::LazyStorage::new(config.storage.clone()),
            passwords: auth::passwords::Passwords::new(),
            session_ttl: config.session_ttl,
            trust_easy_auth: config.trust_easy_auth,
        })
    }
}

/// The complete service: every function under `/api`, the readiness probe on `/`, and the
/// invocation payload adapter on `/<function>`.
pub fn app(state: AppState) -> Router {
    let (api, _openapi) = functions::router().split_for_parts();
    // One ServiceBuilder per group, listed outermost first: json_errors sees what the URL limit,
    // body limit, deadline and panic layers say. One `.layer` call per group, not one per layer:
    // axum wraps every route in a boxed `Route` at each `.layer`, and each wrapper costs an
    // allocation and a clone per request (bench/README.md, "Profiling").
    let api: Router = api
        .fallback(|| async { AppError::from_status(StatusCode::NOT_FOUND) })
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(error::json_errors))
                .layer(middleware::from_fn(host::url_limit))
                .layer(RequestBodyLimitLayer::new(host::MAX_BODY_BYTES))
                .layer(host::deadline::DeadlineLayer::new(
                    host::RESPONSE_DEADLINE,
                    StatusCode::GATEWAY_TIMEOUT,
                ))
                .layer(CatchPanicLayer::new()),
        )
        .with_state(state);

    let payload_api = api.clone();
    api.route("/", get(host::readiness))
        .route(
            "/{function}",
            any(move |function, request| {
                host::invocation::invoke(payload_api.clone(), function, request)
            }),
        )
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(logging::log_request))
                .layer(middleware::from_fn(error::json_errors)),
        )
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and gives
/// in-flight requests up to `grace` to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> io::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let listener = listener.tap_io(|tcp| {
        // Small request/response pairs: do not let Nagle hold them back.
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping_tx.send(());
        })
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        _ = stopping_rx => {}
    }
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: finishing in-flight requests"
    );
    match tokio::time::timeout(grace, server).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!("in-flight requests did not finish in time; exiting anyway");
            Ok(())
        }
    }
}

/// Resolves on SIGTERM (how the host and Azure stop an instance) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
