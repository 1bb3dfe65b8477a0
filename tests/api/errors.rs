//! Every 4xx/5xx leaves as `{"error": {"code", "message"}}`, including the framework's own:
//! unknown routes, wrong methods, the host's body and URL limits, and malformed payloads.

use crate::common::{self, spawn_app, Mode, BOTH_MODES};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn unknown_routes_are_json_404s() {
    let app = spawn_app().await;
    for path in ["/api/nope", "/api/hello/extra", "/a/b/c"] {
        let reply = app
            .call(Mode::Proxied, "hello", Method::GET, path, None, b"")
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.error_code(), "not_found", "{path}");
    }
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow_in_both_modes() {
    let app = spawn_app().await;
    for mode in BOTH_MODES {
        let reply = app
            .call(mode, "hello", Method::DELETE, "/api/hello", None, b"")
            .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{mode:?}");
        assert_eq!(reply.error_code(), "method_not_allowed");
        let allow = reply.header("allow").expect("Allow header");
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    }
}

#[tokio::test]
async fn urls_over_4_kb_are_414() {
    let app = spawn_app().await;
    let path = format!("/api/hello?name=a&pad={}", "x".repeat(4096));
    let reply = app
        .call(Mode::Proxied, "hello", Method::GET, &path, None, b"")
        .await;
    assert_eq!(reply.status, StatusCode::URI_TOO_LONG);
    assert_eq!(reply.error_code(), "uri_too_long");

    let reply = app
        .call(Mode::Payload, "hello", Method::GET, &path, None, b"")
        .await;
    assert_eq!(reply.status, StatusCode::URI_TOO_LONG, "payload mode");
}

#[tokio::test]
async fn bodies_over_100_mb_are_413_before_any_is_read() {
    let app = spawn_app().await;
    // Declares one byte over the host's limit and sends none of it: the answer must not wait.
    let response = app
        .raw(b"POST /api/hello HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: 104857601\r\n\r\n")
        .await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("application/json"), "{response}");
    assert!(
        response.contains(r#""code":"payload_too_large""#),
        "{response}"
    );
}

#[tokio::test]
async fn prefix_less_paths_get_a_hint_not_a_405() {
    let app = spawn_app().await;
    let reply = app
        .call(Mode::Proxied, "hello", Method::GET, "/hello", None, b"")
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error_code(), "not_found");
    assert!(reply.text().contains("/api/hello"), "{}", reply.text());
}

#[tokio::test]
async fn payloads_for_unknown_functions_are_404() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/nope", app.base))
        .json(&common::invocation("GET", "/api/nope", None, b""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn malformed_payloads_are_400s_that_say_what_is_wrong() {
    let app = spawn_app().await;
    let cases = [
        ("not json at all".to_owned(), "invalid invocation payload"),
        (json!({"Metadata": {}}).to_string(), "Data"),
        (
            json!({"Data": {"req": {"Method": "GET"}}}).to_string(),
            "Url",
        ),
        (
            json!({"Data": {"req": {"Url": "http://x/api/hello", "Method": "G E T"}}}).to_string(),
            "Method",
        ),
        (
            json!({"Data": {"req": {"Url": "http://x/api/hello", "Method": "GET",
                "Headers": {"Bad Header": ["x"]}}}})
            .to_string(),
            "Bad Header",
        ),
        (
            json!({"Data": {"req": {"Url": "http://x/api/hello", "Method": "POST",
                "Headers": {"Content-Type": ["application/octet-stream"]}, "Body": "***"}}})
            .to_string(),
            "base64",
        ),
    ];
    for (payload, mentions) in cases {
        let response = app
            .client
            .post(format!("{}/hello", app.base))
            .header("content-type", "application/json")
            .body(payload.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{payload}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_invocation", "{payload}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{payload}: {message}");
    }
}

#[tokio::test]
async fn the_readiness_probe_answers_get_slash() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn framework_rejections_keep_their_reason() {
    let app = spawn_app().await;
    let reply = app
        .call(
            Mode::Proxied,
            "hello",
            Method::GET,
            "/api/hello?name=a&name=b",
            None,
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "bad_request");
    assert!(reply.text().contains("duplicate field"), "{}", reply.text());
}

#[tokio::test]
async fn malformed_json_is_one_code_everywhere_and_tfl_unreachable_says_what_to_check() {
    let app = spawn_app().await.signed_in().await;
    for path in ["/api/users", "/api/users/login", "/api/records"] {
        let response = app
            .client
            .post(format!("{}{path}", app.base))
            .header("content-type", "application/json")
            .body("{,")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "malformed_body", "{path}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("the body is not valid JSON"),
            "{path}: {message}"
        );
        assert!(!message.contains('?'), "{path}: {message}");
    }
    // Nothing listens where TfL is configured (a closed local port): say what to check.
    let response = app
        .client
        .get(format!("{}/api/status", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TFL_API_BASE"),
        "{body}"
    );
}

#[test]
fn a_bad_connection_string_says_what_it_needs_once() {
    let error = handler::config::Config::from_lookup(None, |name| {
        (name == "STORAGE_CONNECTION_STRING").then(|| "not a connection string".to_owned())
    })
    .unwrap_err()
    .to_string();
    assert!(!error.contains("expected expected"), "{error}");
    assert!(error.contains("Key=Value"), "{error}");
    assert!(
        !error.contains("not a connection string"),
        "never echoed: {error}"
    );
}

#[tokio::test]
async fn json_errors_name_no_internal_type_and_echo_no_value() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/api/hello", app.base))
        .header("content-type", "application/json")
        .body("123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let message = response.json::<serde_json::Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!message.contains("HelloBody"), "{message}");
    assert!(!message.contains("123456789"), "{message}");
    let payload = serde_json::json!({"Data": {"req": {"Url": "http://x/api/hello", "Method": "GET", "Headers": {"a": 5}}}});
    let response = app
        .client
        .post(format!("{}/hello", app.base))
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let message = response.json::<serde_json::Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!message.contains("HeaderValues"), "{message}");
}
