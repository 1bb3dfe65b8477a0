//! `records` over HTTP: the REST contract (status codes, headers, validation, ETags,
//! continuation) on the embedded backend and on Azurite, in both host modes.

use crate::common::{azurite_settings, spawn_app, spawn_app_with, Mode, TestApp, BOTH_MODES};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const JSON: Option<&str> = Some("application/json");

async fn both_backends() -> Vec<(&'static str, TestApp)> {
    vec![
        ("embedded", spawn_app().await.signed_in().await),
        (
            "azurite",
            spawn_app_with(&azurite_settings()).await.signed_in().await,
        ),
    ]
}

async fn create(app: &TestApp, name: &str, price: i64) -> (Value, String) {
    let reply = app
        .call(
            Mode::Proxied,
            "records",
            Method::POST,
            "/api/records",
            JSON,
            json!({"name": name, "price": price}).to_string().as_bytes(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let etag = reply.header("etag").expect("ETag").to_owned();
    (reply.json(), etag)
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, format!("{}{path}", app.base));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn create_read_update_delete_with_etags() {
    for (backend, app) in both_backends().await {
        let (created, etag) = create(&app, "  apple ", 300).await;
        assert_eq!(created["name"], "apple", "{backend}: trimmed");
        assert_eq!(created["price"], 300);
        assert_eq!(created["createdAt"], created["updatedAt"]);
        let id = created["id"].as_str().unwrap().to_owned();
        let path = format!("/api/records/{id}");

        let got = send(&app, Method::GET, &path, &[], None).await;
        assert_eq!(got.status(), StatusCode::OK, "{backend}");
        assert_eq!(got.headers()["etag"], etag.as_str(), "{backend}");

        let not_modified = send(&app, Method::GET, &path, &[("if-none-match", &etag)], None).await;
        assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED, "{backend}");

        let patched = send(
            &app,
            Method::PATCH,
            &path,
            &[("if-match", &etag)],
            Some(json!({"price": 350})),
        )
        .await;
        assert_eq!(patched.status(), StatusCode::OK, "{backend}");
        let new_etag = patched.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(new_etag, etag, "{backend}");
        let body: Value = patched.json().await.unwrap();
        assert_eq!(
            (body["name"].as_str(), body["price"].as_i64()),
            (Some("apple"), Some(350))
        );

        let stale = send(
            &app,
            Method::PUT,
            &path,
            &[("if-match", &etag)],
            Some(json!({"name": "pear", "price": 1})),
        )
        .await;
        assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED, "{backend}");
        let error: Value = stale.json().await.unwrap();
        assert_eq!(error["error"]["code"], "precondition_failed");

        let replaced = send(
            &app,
            Method::PUT,
            &path,
            &[("if-match", &new_etag)],
            Some(json!({"name": "pear", "price": 1})),
        )
        .await;
        assert_eq!(replaced.status(), StatusCode::OK, "{backend}");
        let body: Value = replaced.json().await.unwrap();
        assert_eq!(body["name"], "pear");
        assert_eq!(
            body["createdAt"], created["createdAt"],
            "{backend}: PUT keeps createdAt"
        );

        let stale_delete = send(&app, Method::DELETE, &path, &[("if-match", &etag)], None).await;
        assert_eq!(
            stale_delete.status(),
            StatusCode::PRECONDITION_FAILED,
            "{backend}"
        );
        let deleted = send(&app, Method::DELETE, &path, &[], None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT, "{backend}");
        let gone = send(&app, Method::GET, &path, &[], None).await;
        assert_eq!(gone.status(), StatusCode::NOT_FOUND, "{backend}");
        let again = send(&app, Method::DELETE, &path, &[], None).await;
        assert_eq!(again.status(), StatusCode::NOT_FOUND, "{backend}");
    }
}

#[tokio::test]
async fn create_answers_with_location_in_both_modes() {
    let app = spawn_app().await.signed_in().await;
    for mode in BOTH_MODES {
        let reply = app
            .call(
                mode,
                "records",
                Method::POST,
                "/api/records",
                JSON,
                br#"{"name":"fig","price":42}"#,
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{mode:?}");
        let body = reply.json();
        let location = reply.header("location").expect("Location");
        assert_eq!(
            location,
            format!("/api/records/{}", body["id"].as_str().unwrap())
        );
        let fetched = app
            .call(mode, "records", Method::GET, location, None, b"")
            .await;
        assert_eq!(fetched.status, StatusCode::OK, "{mode:?}");
        assert_eq!(fetched.json()["name"], "fig");
    }
}

#[tokio::test]
async fn bad_input_is_a_400_that_names_the_problem() {
    let app = spawn_app().await.signed_in().await;
    let cases: [(Value, &str); 7] = [
        (json!({"name": "", "price": 1}), "name"),
        (json!({"name": "a".repeat(51), "price": 1}), "name"),
        (json!({"name": "a\u{1}b", "price": 1}), "control"),
        (json!({"name": "apple", "price": -1}), "price"),
        (json!({"name": "apple", "price": 1_000_000_001}), "price"),
        (json!({"name": "apple", "price": 1.5}), "price"),
        (
            json!({"name": "apple", "price": 1, "colour": "red"}),
            "colour",
        ),
    ];
    for (body, mentions) in cases {
        let reply = send(&app, Method::POST, "/api/records", &[], Some(body.clone())).await;
        assert_eq!(reply.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = reply.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_input", "{body}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body}: {message}");
    }
    let not_json = app
        .call(
            Mode::Proxied,
            "records",
            Method::POST,
            "/api/records",
            Some("text/plain"),
            b"apple",
        )
        .await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    for path in ["/api/records/not-a-uuid", "/api/records/1'%20or%20'1'='1"] {
        let reply = send(&app, Method::GET, path, &[], None).await;
        assert_eq!(reply.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    for query in [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "continuation=%21%21",
        "name=",
    ] {
        let reply = send(
            &app,
            Method::GET,
            &format!("/api/records?{query}"),
            &[],
            None,
        )
        .await;
        assert_eq!(reply.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    let empty_patch = send(
        &app,
        Method::PATCH,
        &format!("/api/records/{}", uuid::Uuid::now_v7()),
        &[],
        Some(json!({})),
    )
    .await;
    assert_eq!(empty_patch.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn listing_pages_with_continuation_and_filters_safely() {
    for (backend, app) in both_backends().await {
        let mut ids = Vec::new();
        for i in 0..5 {
            let name = if i == 2 { "x' or 'a' eq 'a" } else { "plum" };
            ids.push(
                create(&app, name, i).await.0["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        let mut seen = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let path = match &next {
                Some(token) => format!("/api/records?limit=2&continuation={token}"),
                None => "/api/records?limit=2".to_owned(),
            };
            let reply = send(&app, Method::GET, &path, &[], None).await;
            assert_eq!(reply.status(), StatusCode::OK, "{backend}");
            let header = reply
                .headers()
                .get("x-continuation")
                .map(|v| v.to_str().unwrap().to_owned());
            let page: Value = reply.json().await.unwrap();
            assert_eq!(
                page["continuation"].as_str().map(str::to_owned),
                header,
                "{backend}"
            );
            seen.extend(
                page["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["id"].as_str().unwrap().to_owned()),
            );
            next = header;
            if next.is_none() {
                break;
            }
        }
        assert_eq!(seen, ids, "{backend}");

        let injected = send(
            &app,
            Method::GET,
            "/api/records?name=plum'%20or%20'a'%20eq%20'a",
            &[],
            None,
        )
        .await;
        let page: Value = injected.json().await.unwrap();
        assert_eq!(
            page["records"].as_array().unwrap().len(),
            0,
            "{backend}: injection matched"
        );
        let literal = send(
            &app,
            Method::GET,
            "/api/records?name=x'%20or%20'a'%20eq%20'a",
            &[],
            None,
        )
        .await;
        let page: Value = literal.json().await.unwrap();
        assert_eq!(
            page["records"].as_array().unwrap().len(),
            1,
            "{backend}: the odd name is data"
        );
        let plums = send(&app, Method::GET, "/api/records?name=plum", &[], None).await;
        let page: Value = plums.json().await.unwrap();
        assert_eq!(page["records"].as_array().unwrap().len(), 4, "{backend}");
    }
}

#[tokio::test]
async fn fifty_concurrent_patches_with_one_etag_one_wins_and_nothing_is_lost() {
    for (backend, app) in both_backends().await {
        let (created, etag) = create(&app, "apple", 1).await;
        let path = format!("/api/records/{}", created["id"].as_str().unwrap());
        let requests = (0..50).map(|i| {
            let (client, url, etag) = (
                app.client.clone(),
                format!("{}{path}", app.base),
                etag.clone(),
            );
            async move {
                let response = client
                    .patch(url)
                    .header("if-match", etag)
                    .json(&json!({"price": 1000 + i}))
                    .send()
                    .await
                    .unwrap();
                (i, response.status())
            }
        });
        let results = futures::future::join_all(requests).await;
        let winners: Vec<i64> = results
            .iter()
            .filter(|(_, s)| *s == StatusCode::OK)
            .map(|(i, _)| *i)
            .collect();
        let refused = results
            .iter()
            .filter(|(_, s)| *s == StatusCode::PRECONDITION_FAILED)
            .count();
        assert_eq!(winners.len(), 1, "{backend}: {results:?}");
        assert_eq!(refused, 49, "{backend}: {results:?}");
        let stored: Value = send(&app, Method::GET, &path, &[], None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            stored["price"],
            1000 + winners[0],
            "{backend}: the winning update is kept"
        );
    }
}

#[tokio::test]
async fn unreachable_storage_is_a_503_with_retry_after_not_a_hang() {
    // A connection string pointing at a closed port: storage is down, the handler is not.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(&[
        (
            "STORAGE_CONNECTION_STRING",
            format!("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1"),
        ),
        ("STORAGE_TIMEOUT_MS", "500".to_owned()),
    ])
    .await;
    // A well-formed token, so the request gets as far as storage.
    let token = format!("Bearer {}", "A".repeat(64));
    let reply = send(
        &app,
        Method::GET,
        "/api/records",
        &[("authorization", &token)],
        None,
    )
    .await;
    assert_eq!(reply.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.headers().contains_key("retry-after"));
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"]["code"], "service_unavailable");
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no internals: {body}"
    );
    // Readiness does not depend on storage.
    let ready = send(&app, Method::GET, "/", &[], None).await;
    assert_eq!(ready.status(), StatusCode::OK);
}
