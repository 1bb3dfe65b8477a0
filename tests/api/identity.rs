//! The managed identity credential against a local stand-in for App Service's identity
//! endpoint: the secret header, the user-assigned client id, the resource, and caching.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    routing::get,
    Json, Router,
};
use azure_core::auth::TokenCredential;
use handler::storage::identity::ManagedIdentityCredential;
use serde_json::json;

async fn identity_endpoint(
    State(calls): State<Arc<AtomicUsize>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, StatusCode> {
    calls.fetch_add(1, Ordering::SeqCst);
    let authorised = headers
        .get("x-identity-header")
        .is_some_and(|v| v == "platform-secret");
    let expected = query.get("api-version").map(String::as_str) == Some("2019-08-01")
        && query.get("resource").map(String::as_str) == Some("https://storage.azure.com/")
        && query.get("client_id").map(String::as_str) == Some("user-assigned-id");
    if !authorised || !expected {
        return Err(StatusCode::BAD_REQUEST);
    }
    let expires_on = (time::OffsetDateTime::now_utc().unix_timestamp() + 3600).to_string();
    Ok(Json(json!({
        "access_token": "token-1",
        "expires_on": expires_on,
        "resource": "https://storage.azure.com/",
        "token_type": "Bearer",
        "client_id": "user-assigned-id"
    })))
}

async fn serve(calls: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/msi/token", get(identity_endpoint))
        .with_state(calls);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/msi/token")
}

#[tokio::test]
async fn fetches_a_user_assigned_token_once_and_caches_it() {
    let calls = Arc::new(AtomicUsize::new(0));
    let endpoint = serve(calls.clone()).await;
    let credential = ManagedIdentityCredential::new(
        reqwest::Client::new(),
        endpoint,
        "platform-secret".into(),
        Some("user-assigned-id".into()),
    );
    let scopes = ["https://storage.azure.com/.default"];
    let first = credential.get_token(&scopes).await.expect("token");
    assert_eq!(first.token.secret(), "token-1");
    credential.get_token(&scopes).await.expect("cached token");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the second call is served from the cache"
    );

    credential.clear_cache().await.unwrap();
    credential.get_token(&scopes).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_request_is_an_error_that_does_not_leak_the_secret() {
    let calls = Arc::new(AtomicUsize::new(0));
    let endpoint = serve(calls).await;
    let credential = ManagedIdentityCredential::new(
        reqwest::Client::new(),
        endpoint,
        "wrong-secret".into(),
        Some("user-assigned-id".into()),
    );
    let error = credential
        .get_token(&["https://storage.azure.com/.default"])
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("400"), "{message}");
    assert!(!message.contains("wrong-secret"), "{message}");
}
