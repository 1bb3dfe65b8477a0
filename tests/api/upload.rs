//! `upload` over HTTP on both backends: raw and multipart uploads, downloads with ranges,
//! conditional GETs and HEAD, names, limits, and interrupted uploads leaving nothing behind.

use crate::common::{self, azurite_settings, spawn_app, spawn_app_with, TestApp, BOTH_MODES};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

async fn both_backends() -> Vec<(&'static str, TestApp)> {
    let mut azurite = azurite_settings();
    azurite.push(("UPLOADS_CONTAINER", common::unique_table("uploads")));
    vec![
        ("embedded", spawn_app().await.signed_in().await),
        ("azurite", spawn_app_with(&azurite).await.signed_in().await),
    ]
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(data))
}

#[tokio::test]
async fn a_raw_upload_downloads_back_identical_with_its_headers() {
    let data = pattern(9 * 1024 * 1024 + 17);
    for (backend, app) in both_backends().await {
        let response = app
            .client
            .put(format!("{}/api/upload/reports/q3.pdf", app.base))
            .body(data.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{backend}");
        assert_eq!(response.headers()["location"], "/api/upload/reports/q3.pdf");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["name"], "reports/q3.pdf");
        assert_eq!(body["size"], data.len());
        assert_eq!(
            body["contentType"], "application/pdf",
            "{backend}: guessed from the name"
        );
        assert_eq!(body["sha256"], sha256_hex(&data), "{backend}");
        assert_eq!(body["url"], "/api/upload/reports/q3.pdf");

        let download = app
            .client
            .get(format!("{}/api/upload/reports/q3.pdf", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(download.status(), StatusCode::OK, "{backend}");
        let headers = download.headers().clone();
        assert_eq!(headers["content-type"], "application/pdf");
        assert_eq!(headers["content-length"], data.len().to_string().as_str());
        assert_eq!(headers["etag"], body["etag"].as_str().unwrap());
        assert!(headers.contains_key("last-modified"), "{backend}");
        assert_eq!(headers["accept-ranges"], "bytes");
        assert!(headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline; filename=\"q3.pdf\""));
        assert!(
            download.bytes().await.unwrap() == data,
            "{backend}: byte-identical"
        );
    }
}

#[tokio::test]
async fn ranges_conditional_gets_and_head() {
    let data = pattern(1000);
    for (backend, app) in both_backends().await {
        let created: Value = app
            .client
            .post(format!("{}/api/upload?name=data.bin", app.base))
            .header("content-type", "application/octet-stream")
            .body(data.clone())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = format!("{}/api/upload/data.bin", app.base);

        let part = app
            .client
            .get(&url)
            .header("range", "bytes=0-99")
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT, "{backend}");
        assert_eq!(part.headers()["content-range"], "bytes 0-99/1000");
        assert_eq!(part.headers()["content-length"], "100");
        assert_eq!(part.bytes().await.unwrap(), data[..100], "{backend}");

        let tail = app
            .client
            .get(&url)
            .header("range", "bytes=-10")
            .send()
            .await
            .unwrap();
        assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(tail.bytes().await.unwrap(), data[990..], "{backend}");

        let outside = app
            .client
            .get(&url)
            .header("range", "bytes=1000-")
            .send()
            .await
            .unwrap();
        assert_eq!(
            outside.status(),
            StatusCode::RANGE_NOT_SATISFIABLE,
            "{backend}"
        );
        assert_eq!(outside.headers()["content-range"], "bytes */1000");
        let error: Value = outside.json().await.unwrap();
        assert_eq!(error["error"]["code"], "range_not_satisfiable");

        let etag = created["etag"].as_str().unwrap();
        let cached = app
            .client
            .get(&url)
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED, "{backend}");

        let head = app.client.head(&url).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK, "{backend}");
        assert_eq!(head.headers()["content-length"], "1000");
        assert!(head.bytes().await.unwrap().is_empty());

        assert_eq!(
            app.client.get(&url).send().await.unwrap().headers()["content-disposition"]
                .to_str()
                .unwrap()
                .split(';')
                .next(),
            Some("attachment"),
            "{backend}: binary downloads are attachments"
        );
    }
}

#[tokio::test]
async fn empty_files_upload_and_download() {
    for (backend, app) in both_backends().await {
        let created = app
            .client
            .put(format!("{}/api/upload/empty.txt", app.base))
            .body(Vec::new())
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED, "{backend}");
        let download = app
            .client
            .get(format!("{}/api/upload/empty.txt", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(download.status(), StatusCode::OK, "{backend}");
        assert_eq!(download.headers()["content-length"], "0");
        assert!(download.bytes().await.unwrap().is_empty(), "{backend}");
    }
}

#[tokio::test]
async fn multipart_forms_store_each_file_part() {
    let app = spawn_app().await.signed_in().await;
    let one = reqwest::multipart::Form::new()
        .text("comment", "ignored")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("a.txt"),
        );
    let response = app
        .client
        .post(format!("{}/api/upload", app.base))
        .multipart(one)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/api/upload/a.txt");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["contentType"], "text/plain");

    let two = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"1".to_vec())
                .file_name("x.png")
                .mime_str("image/png")
                .unwrap(),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"<svg/>".to_vec()).file_name("y.svg"),
        );
    let response = app
        .client
        .post(format!("{}/api/upload", app.base))
        .multipart(two)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body.as_array().map(Vec::len), Some(2));

    let svg = app
        .client
        .get(format!("{}/api/upload/y.svg", app.base))
        .send()
        .await
        .unwrap();
    let disposition = svg.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment"),
        "scriptable types are never inline: {disposition}"
    );
    assert!(svg.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert_eq!(svg.headers()["x-content-type-options"], "nosniff");

    let listing: Value = app
        .client
        .get(format!("{}/api/upload", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a.txt", "x.png", "y.svg"]);

    let empty_form = reqwest::multipart::Form::new().text("comment", "no file");
    let response = app
        .client
        .post(format!("{}/api/upload", app.base))
        .multipart(empty_form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_names_are_400() {
    let app = spawn_app().await.signed_in().await;
    for query in [
        "name=..%2Fx",
        "name=%2Fetc%2Fpasswd",
        "name=a%5Cb",
        "name=a%2F%2Fb",
        "name=",
        "",
    ] {
        let response = app
            .client
            .post(format!("{}/api/upload?{query}", app.base))
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_input", "{query}");
    }
    let long = format!("{}/api/upload/{}", app.base, "a".repeat(256));
    let response = app.client.put(long).body("x").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let missing = app
        .client
        .get(format!("{}/api/upload/nope.txt", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let missing = app
        .client
        .delete(format!("{}/api/upload/nope.txt", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_size_limit_is_checked_up_front_and_while_streaming() {
    let app = spawn_app_with(&[("UPLOAD_MAX_BYTES", "1000".to_owned())])
        .await
        .signed_in()
        .await;
    // Declared too large: refused before any byte is read.
    let token = app.token.clone().unwrap();
    let response = app
        .raw(format!("PUT /api/upload/big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 1001\r\n\r\n").as_bytes())
        .await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");

    // Not declared (chunked): refused when the stream passes the limit; nothing stored.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..11).map(|_| Ok(vec![1u8; 100])).collect();
    let response = app
        .client
        .put(format!("{}/api/upload/big.bin", app.base))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let missing = app
        .client
        .get(format!("{}/api/upload/big.bin", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_client_that_disconnects_mid_upload_leaves_nothing() {
    for (backend, app) in both_backends().await {
        let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
        let token = app.token.clone().unwrap();
        let head = format!("PUT /api/upload/cut.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 20000000\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&pattern(6 * 1024 * 1024)).await.unwrap();
        drop(stream);

        // The handler notices the reset and abandons the upload; poll until it has.
        let mut last = StatusCode::OK;
        for _ in 0..100 {
            last = app
                .client
                .get(format!("{}/api/upload/cut.bin", app.base))
                .send()
                .await
                .unwrap()
                .status();
            if last == StatusCode::NOT_FOUND && staged(&app) == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(last, StatusCode::NOT_FOUND, "{backend}");
        assert_eq!(staged(&app), 0, "{backend}: no partial file remains");
        let listing: Value = app
            .client
            .get(format!("{}/api/upload", app.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listing["files"].as_array().unwrap().len(), 0, "{backend}");
    }
}

/// Files left in the embedded backend's staging directory.
fn staged(app: &TestApp) -> usize {
    let staging = app
        .data_dir
        .path()
        .join("blobs")
        .join("uploads")
        .join(".staging");
    std::fs::read_dir(staging)
        .map(|entries| entries.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn small_files_work_in_payload_mode_too() {
    let app = spawn_app().await.signed_in().await;
    for mode in BOTH_MODES {
        let reply = app
            .call(
                mode,
                "upload",
                Method::PUT,
                "/api/upload/note.txt",
                Some("text/plain"),
                b"hi there",
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{mode:?}: {}",
            reply.text()
        );
        let got = app
            .call(
                mode,
                "upload",
                Method::GET,
                "/api/upload/note.txt",
                None,
                b"",
            )
            .await;
        assert_eq!(got.status, StatusCode::OK, "{mode:?}");
        assert_eq!(got.text(), "hi there", "{mode:?}");
    }
}
