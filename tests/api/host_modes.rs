//! Every function, text and binary, in every mode a supported Functions host version uses:
//! proxied (hosts with `enableProxyingHttpRequest`), forwarded (hosts before it, with
//! `enableForwardingHttpRequest`), and the JSON invocation payload (any function that does not
//! qualify for either). Payloads are built as the host's `GetRequestAsJObject` builds them
//! (`common::invocation`). What the payload mode cannot carry must be refused, never
//! corrupted or silently lost.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{invocation, spawn_app, Mode, TestApp, ALL_MODES};

/// One request: function, method, path and query, content type, body.
type Case<'a> = (&'a str, Method, &'a str, Option<&'a str>, &'a [u8]);

async fn signed_in_app() -> TestApp {
    spawn_app().await.signed_in().await
}

#[tokio::test]
async fn every_function_answers_alike_in_every_mode() {
    let app = signed_in_app().await;
    let record = app
        .client
        .post(format!("{}/api/records", app.base))
        .json(&json!({"name": "apple", "price": 3}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let record_path = format!("/api/records/{}", record["id"].as_str().unwrap());
    app.client
        .put(format!("{}/api/upload/notes.txt", app.base))
        .header("content-type", "text/plain")
        .body("plain text, carried in every mode")
        .send()
        .await
        .unwrap();
    let cases: Vec<Case> = vec![
        ("hello", Method::GET, "/api/hello?name=Ada", None, b""),
        (
            "hello",
            Method::POST,
            "/api/hello",
            Some("application/x-www-form-urlencoded"),
            b"name=Grace",
        ),
        ("openapi", Method::GET, "/api/openapi.json", None, b""),
        ("status", Method::GET, "/api/status?mode=tube", None, b""),
        ("bikepoint", Method::GET, "/api/bikepoint/187", None, b""),
        ("records", Method::GET, "/api/records?limit=5", None, b""),
        ("records", Method::GET, &record_path, None, b""),
        ("upload", Method::GET, "/api/upload/notes.txt", None, b""),
        ("upload", Method::GET, "/api/upload", None, b""),
        ("users", Method::GET, "/api/users/me", None, b""),
    ];
    for (function, method, path, content_type, body) in cases {
        let mut replies = Vec::new();
        for mode in ALL_MODES {
            let reply = app
                .call(mode, function, method.clone(), path, content_type, body)
                .await;
            replies.push((mode, reply));
        }
        let (_, first) = &replies[0];
        for (mode, reply) in &replies[1..] {
            assert_eq!(reply.status, first.status, "{function} {path} {mode:?}");
            // The export and listings carry times; everything else is byte for byte.
            if !path.starts_with("/api/users/me") {
                assert_eq!(reply.body, first.body, "{function} {path} {mode:?}");
            }
        }
    }
}

#[tokio::test]
async fn a_binary_download_is_refused_in_payload_mode_not_corrupted() {
    let app = signed_in_app().await;
    let binary: Vec<u8> = (0..64u8).map(|b| b.wrapping_mul(37) | 0x80).collect();
    app.client
        .put(format!("{}/api/upload/blob.bin", app.base))
        .header("content-type", "application/octet-stream")
        .body(binary.clone())
        .send()
        .await
        .unwrap();
    for mode in [Mode::Proxied, Mode::Forwarded] {
        let reply = app
            .call(
                mode,
                "upload",
                Method::GET,
                "/api/upload/blob.bin",
                None,
                b"",
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{mode:?}");
        assert_eq!(reply.body, binary, "{mode:?}");
    }
    let reply = app
        .call(
            Mode::Payload,
            "upload",
            Method::GET,
            "/api/upload/blob.bin",
            None,
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_IMPLEMENTED);
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("payload mode"), "{message}");
    assert!(message.contains("enableProxyingHttpRequest"), "{message}");

    // Text too large to buffer whole is refused the same way.
    let large = "x".repeat(9 * 1024 * 1024);
    app.client
        .put(format!("{}/api/upload/large.txt", app.base))
        .header("content-type", "text/plain")
        .body(large)
        .send()
        .await
        .unwrap();
    let reply = app
        .call(
            Mode::Payload,
            "upload",
            Method::GET,
            "/api/upload/large.txt",
            None,
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_IMPLEMENTED);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("larger than"));
}

#[tokio::test]
async fn a_chunked_upload_the_host_dropped_is_411_not_an_empty_file() {
    let app = signed_in_app().await;
    // The host sent the request's headers, but no Body: it had no Content-Length.
    let mut payload = invocation("PUT", "/api/upload/c.txt", Some("text/plain"), b"");
    payload["Data"]["req"]["Headers"]["Transfer-Encoding"] = json!(["chunked"]);
    payload["Data"]["req"]["Headers"]["Authorization"] =
        json!([format!("Bearer {}", app.token.as_deref().unwrap())]);
    let envelope: Value = reqwest::Client::new()
        .post(format!("{}/upload", app.base))
        .json(&payload)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = &envelope["Outputs"]["res"];
    assert_eq!(res["statusCode"], 411, "{envelope}");
    let body: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "length_required");
    let listing = app
        .client
        .get(format!("{}/api/upload", app.base))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(listing["files"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn payload_responses_leave_framing_to_the_host() {
    let app = signed_in_app().await;
    app.client
        .put(format!("{}/api/upload/gone.txt", app.base))
        .body("soon gone")
        .send()
        .await
        .unwrap();
    for (method, path) in [
        (Method::GET, "/api/hello?name=Ada"),
        (Method::DELETE, "/api/upload/gone.txt"),
        (Method::GET, "/api/upload/nothing-here.txt"),
    ] {
        let function = path.split('/').nth(2).unwrap().split('?').next().unwrap();
        let reply = app
            .call(Mode::Payload, function, method.clone(), path, None, b"")
            .await;
        for (name, _) in &reply.headers {
            assert!(
                !name.eq_ignore_ascii_case("content-length")
                    && !name.eq_ignore_ascii_case("transfer-encoding"),
                "{method} {path}: {name}"
            );
        }
    }
}
