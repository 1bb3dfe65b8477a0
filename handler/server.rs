//! The HTTP server: accepts connections on the listener and serves the app on each, within
//! bounds. A client that trickles its headers is cut off after `HEADER_TIMEOUT` (which also
//! ends an idle keep-alive connection), a request body that stops arriving fails after
//! `BODY_TIMEOUT` of silence (a slow upload that keeps sending is fine), and at most
//! `MAX_CONNECTIONS` connections are served at once: past that, new ones wait in the listen
//! backlog while established ones carry on undisturbed. On shutdown the listener closes,
//! in-flight requests finish (up to a grace period), and idle connections are closed.

use std::{convert::Infallible, future::Future, io, sync::Arc, time::Duration};

use axum::{body::Body, extract::Request, Router};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::TcpListener,
    sync::{watch, Semaphore},
};
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

/// How long a client may take and how many may be served at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// To send a request's headers, counted from when the server is ready to read them (so it
    /// also bounds how long a keep-alive connection may sit idle).
    pub header_timeout: Duration,
    /// Of silence while a request body is read.
    pub body_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and gives
/// in-flight requests up to `grace` to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stopping_tx, stopping_rx) = watch::channel(false);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        // A free slot first: over the cap, connections wait in the kernel's backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait for connections to end
                    // rather than spin.
                    tracing::error!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small request/response pairs: do not let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let body_timeout = limits.body_timeout;
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let request: Request =
                request.map(|body| Body::new(TimeoutBody::new(body_timeout, body)));
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.oneshot(request).await.unwrap_or_else(|e| match e {})) }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let mut stopping = stopping_rx.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let stop = async move {
                let _ = stopping.wait_for(|stopping| *stopping).await;
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop => {
                    // Finish the request in flight, if any, then close.
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: finishing in-flight requests"
    );
    let _ = stopping_tx.send(true);
    let all_closed = slots.acquire_many(limits.max_connections.try_into().unwrap_or(u32::MAX));
    if tokio::time::timeout(grace, all_closed).await.is_err() {
        tracing::warn!("in-flight requests did not finish in time; exiting anyway");
    }
    Ok(())
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
