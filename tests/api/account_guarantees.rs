//! The account rules under attack: many requests at once, the same account from several
//! clients, writes in flight while their owner is erased. Each test runs on both storage
//! backends where storage decides the outcome, on a multi-threaded runtime so that the
//! requests really overlap.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    common::{azurite_settings_for_users, spawn_app, spawn_app_with, TestApp, PASSWORD},
    users::{scan_azurite, scan_embedded},
};

const NEW_PASSWORD: &str = "a different passphrase entirely";
const WRONG: &str = "not the password, sorry";
/// The allowance of password checks per window (handler::domain::MAX_ATTEMPTS).
const ALLOWANCE: usize = handler::domain::MAX_ATTEMPTS as usize;

async fn backends() -> Vec<(&'static str, TestApp)> {
    vec![
        ("embedded", spawn_app().await),
        (
            "azurite",
            spawn_app_with(&azurite_settings_for_users()).await,
        ),
    ]
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

async fn login(app: &TestApp, username: &str, password: &str) -> (StatusCode, Option<String>) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/users/login", app.base))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    (status, body["token"].as_str().map(str::to_owned))
}

async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    TestApp::client_for(token)
        .get(format!("{}/api/users/me", app.base))
        .send()
        .await
        .expect("me")
        .status()
}

async fn patch_me(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    TestApp::client_for(token)
        .patch(format!("{}/api/users/me", app.base))
        .json(&body)
        .send()
        .await
        .expect("patch me")
}

async fn erase(app: &TestApp, token: &str) -> StatusCode {
    TestApp::client_for(token)
        .delete(format!("{}/api/users/me", app.base))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .expect("erase")
        .status()
}

/// Sends `count` requests made by `send` at once; once the first 429 is back (the allowance
/// is spent while the rest are still in flight), sends `last` and waits for everything. Returns the statuses of the burst and of `last`.
async fn burst_then<F, Fut, L>(count: usize, send: F, last: L) -> (Vec<StatusCode>, StatusCode)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = StatusCode> + Send + 'static,
    L: std::future::Future<Output = StatusCode>,
{
    let (first_tx, first_rx) = tokio::sync::watch::channel(false);
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let request = send();
            let first_tx = first_tx.clone();
            tokio::spawn(async move {
                let status = request.await;
                // A 429 says the allowance is spent (the lock is set): from then on, the
                // right password must not get in either.
                if status == StatusCode::TOO_MANY_REQUESTS {
                    let _ = first_tx.send(true);
                }
                status
            })
        })
        .collect();
    let mut first_rx = first_rx;
    let _ = tokio::time::timeout(
        Duration::from_secs(60),
        first_rx.wait_for(|answered| *answered),
    )
    .await;
    let last = last.await;
    let burst = join_all(tasks)
        .await
        .into_iter()
        .map(|status| status.expect("task"))
        .collect();
    (burst, last)
}

fn count(statuses: &[StatusCode], wanted: StatusCode) -> usize {
    statuses.iter().filter(|status| **status == wanted).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_wrong_guesses_verifies_at_most_the_allowance_and_lets_nobody_in() {
    for (backend, app) in backends().await {
        let username = unique("burst");
        app.register_and_login(&username).await;
        let base = app.base.clone();
        let guess = |password: &'static str| {
            let (base, username) = (base.clone(), username.clone());
            async move {
                reqwest::Client::new()
                    .post(format!("{base}/api/users/login"))
                    .json(&json!({"username": username, "password": password}))
                    .send()
                    .await
                    .expect("guess")
                    .status()
            }
        };
        let checks_before = app.state.accounts.password_checks_run();
        let (burst, right) = burst_then(100, || guess(WRONG), guess(PASSWORD)).await;
        let checks = app.state.accounts.password_checks_run() - checks_before;
        assert!(
            checks <= ALLOWANCE as u64,
            "{backend}: {checks} passwords were verified for a burst of 101"
        );
        // A 401 is only ever given after a password was verified (and found wrong).
        assert!(
            count(&burst, StatusCode::UNAUTHORIZED) < ALLOWANCE,
            "{backend}: at most the allowance is verified: {burst:?}"
        );
        // 503: the hashing queue was full, and nothing was checked or counted.
        assert!(
            burst.iter().all(|s| [
                StatusCode::UNAUTHORIZED,
                StatusCode::TOO_MANY_REQUESTS,
                StatusCode::SERVICE_UNAVAILABLE
            ]
            .contains(s)),
            "{backend}: {burst:?}"
        );
        assert_eq!(
            right,
            StatusCode::TOO_MANY_REQUESTS,
            "{backend}: the right password after a burst does not get in"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guesses_through_me_count_exactly_like_logins() {
    for (backend, app) in backends().await {
        let username = unique("oracle");
        let stolen = app.register_and_login(&username).await;
        let base = app.base.clone();
        let change = |current: &'static str| {
            let (base, stolen) = (base.clone(), stolen.clone());
            async move {
                TestApp::client_for(&stolen)
                    .patch(format!("{base}/api/users/me"))
                    .json(&json!({"password": NEW_PASSWORD, "currentPassword": current}))
                    .send()
                    .await
                    .expect("patch")
                    .status()
            }
        };
        let checks_before = app.state.accounts.password_checks_run();
        let (burst, right) = burst_then(20, || change(WRONG), change(PASSWORD)).await;
        let checks = app.state.accounts.password_checks_run() - checks_before;
        assert!(checks <= ALLOWANCE as u64, "{backend}: {checks} verified");
        assert!(
            count(&burst, StatusCode::UNAUTHORIZED) < ALLOWANCE,
            "{backend}: {burst:?}"
        );
        assert_eq!(
            right,
            StatusCode::TOO_MANY_REQUESTS,
            "{backend}: the 21st guess through PATCH /me is refused"
        );
        // The same counter: login and erasure are locked too, and nothing changed.
        assert_eq!(
            login(&app, &username, PASSWORD).await.0,
            StatusCode::TOO_MANY_REQUESTS,
            "{backend}"
        );
        let erasure = TestApp::client_for(&stolen)
            .delete(format!("{}/api/users/me", app.base))
            .json(&json!({"password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(erasure.status(), StatusCode::TOO_MANY_REQUESTS, "{backend}");
        assert!(erasure.headers().contains_key("retry-after"), "{backend}");
        assert_eq!(me_status(&app, &stolen).await, StatusCode::OK, "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_names_lock_like_real_ones() {
    let app = spawn_app().await;
    let real = unique("real");
    app.register_and_login(&real).await;
    let unknown = unique("nobody");
    for name in [&real, &unknown] {
        let mut statuses = Vec::new();
        let mut retry_after = None;
        for _ in 0..ALLOWANCE + 1 {
            let response = reqwest::Client::new()
                .post(format!("{}/api/users/login", app.base))
                .json(&json!({"username": name, "password": WRONG}))
                .send()
                .await
                .unwrap();
            statuses.push(response.status());
            retry_after = response
                .headers()
                .get("retry-after")
                .map(|value| value.to_str().unwrap().parse::<u64>().unwrap());
        }
        let mut expected = vec![StatusCode::UNAUTHORIZED; ALLOWANCE - 1];
        expected.extend([StatusCode::TOO_MANY_REQUESTS; 2]);
        assert_eq!(statuses, expected, "{name}");
        assert!(
            retry_after.is_some_and(|secs| (880..=900).contains(&secs)),
            "{name}: {retry_after:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_token_won_with_an_old_password_works_after_a_change() {
    for (backend, app) in backends().await {
        for trial in 0..3 {
            let username = unique("change");
            let owner = app.register_and_login(&username).await;
            let other_session = app.login(&username).await;
            let change = {
                let (base, owner) = (app.base.clone(), owner.clone());
                tokio::spawn(async move {
                    TestApp::client_for(&owner)
                        .patch(format!("{base}/api/users/me"))
                        .json(&json!({"password": NEW_PASSWORD, "currentPassword": PASSWORD}))
                        .send()
                        .await
                        .unwrap()
                        .status()
                })
            };
            // Logins with the old password, staggered across the change: some read the
            // account before it changes and finish after it has. Four, so that with the
            // change they stay within the allowance and none is refused for that.
            let logins: Vec<_> = [0u64, 5, 15, 30]
                .into_iter()
                .map(|delay| {
                    let (base, username) = (app.base.clone(), username.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                        let response = reqwest::Client::new()
                            .post(format!("{base}/api/users/login"))
                            .json(&json!({"username": username, "password": PASSWORD}))
                            .send()
                            .await
                            .unwrap();
                        let body: Value = response.json().await.unwrap_or_default();
                        body["token"].as_str().map(str::to_owned)
                    })
                })
                .collect();
            assert_eq!(change.await.unwrap(), StatusCode::OK, "{backend} #{trial}");
            for token in join_all(logins).await.into_iter().flatten().flatten() {
                assert_eq!(
                    me_status(&app, &token).await,
                    StatusCode::UNAUTHORIZED,
                    "{backend} #{trial}: a token won with the old password outlived the change"
                );
            }
            assert_eq!(
                me_status(&app, &other_session).await,
                StatusCode::UNAUTHORIZED,
                "{backend} #{trial}"
            );
            assert_eq!(
                me_status(&app, &owner).await,
                StatusCode::OK,
                "{backend} #{trial}: the changer keeps their session"
            );
            // The logins that failed after the change may have spent the allowance.
            let after = login(&app, &username, NEW_PASSWORD).await.0;
            assert!(
                after == StatusCode::OK || after == StatusCode::TOO_MANY_REQUESTS,
                "{backend} #{trial}: {after}"
            );
        }
    }
}

/// Sends the headers and the first half of a JSON body, and leaves the rest for later.
async fn start_slow_post(app: &TestApp, token: &str, body: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let head = format!(
        "POST /api/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    (stream, rest.to_owned())
}

async fn finish(mut stream: TcpStream, rest: &[u8]) -> String {
    stream.write_all(rest).await.unwrap();
    let mut response = String::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(30),
        stream.read_to_string(&mut response),
    )
    .await;
    response
}

/// A chunked upload whose first part is sent now and the rest when asked.
async fn start_slow_upload(app: &TestApp, token: &str, name: &str) -> TcpStream {
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let head = format!(
        "PUT /api/upload/{name} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         10\r\nsecret-plans-one\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erasure_wins_over_writes_and_logins_in_flight() {
    let azurite = azurite_settings_for_users();
    let setting = |name: &str| {
        azurite
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
            .unwrap()
    };
    let tables = [
        setting("RECORDS_TABLE"),
        setting("USERS_TABLE"),
        setting("SESSIONS_TABLE"),
    ];
    let container = setting("UPLOADS_CONTAINER");
    for (backend, app) in [
        ("embedded", spawn_app().await),
        ("azurite", spawn_app_with(&azurite).await),
    ] {
        let username = unique("erased");
        let owner = app.register_and_login(&username).await;
        let second = app.login(&username).await;
        let user_id = TestApp::client_for(&owner)
            .get(format!("{}/api/users/me", app.base))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["profile"]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        // Two writes on the second session, past authentication and waiting for their body.
        let (post, rest) =
            start_slow_post(&app, &second, r#"{"name": "zanzibar quince", "price": 7}"#).await;
        let upload = start_slow_upload(&app, &second, "plans.txt").await;
        // Logins racing the erasure.
        let logins: Vec<_> = (0..4)
            .map(|_| {
                let (base, username) = (app.base.clone(), username.clone());
                tokio::spawn(async move {
                    let response = reqwest::Client::new()
                        .post(format!("{base}/api/users/login"))
                        .json(&json!({"username": username, "password": PASSWORD}))
                        .send()
                        .await
                        .unwrap();
                    let body: Value = response.json().await.unwrap_or_default();
                    body["token"].as_str().map(str::to_owned)
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            erase(&app, &owner).await,
            StatusCode::NO_CONTENT,
            "{backend}"
        );

        // The writes in flight complete after the erasure.
        let posted = finish(post, rest.as_bytes()).await;
        let uploaded = finish(upload, b"5\r\n-more\r\n0\r\n\r\n").await;
        for (what, response) in [("record", &posted), ("upload", &uploaded)] {
            assert!(
                !response.starts_with("HTTP/1.1 201"),
                "{backend}: the {what} written after the erasure was kept: {response}"
            );
        }
        for token in join_all(logins)
            .await
            .into_iter()
            .flatten()
            .flatten()
            .chain([owner.clone(), second.clone()])
        {
            assert_eq!(
                me_status(&app, &token).await,
                StatusCode::UNAUTHORIZED,
                "{backend}: a token of the erased user still works"
            );
        }
        let left: Vec<String> = match backend {
            "embedded" => scan_embedded(&app),
            _ => {
                let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
                scan_azurite(&tables, &container).await
            }
        };
        let traces: Vec<&String> = left
            .iter()
            .filter(|row| {
                row.contains(&user_id)
                    || row.contains(&username)
                    || row.contains("zanzibar")
                    || row.contains("plans.txt")
            })
            .collect();
        assert!(traces.is_empty(), "{backend}: {traces:#?}");
    }
}

/// Every byte of every file under the embedded backend's directory, as one buffer per file.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            found.push((path, bytes));
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erasure_leaves_no_byte_of_the_user_under_the_data_directory() {
    let app = spawn_app().await;
    let username = unique("bytes");
    let token = app.register_and_login(&username).await;
    let me = TestApp::client_for(&token);
    let user_id = me
        .get(format!("{}/api/users/me", app.base))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["profile"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for name in ["quinceberry", "medlarfruit", "loquatpie"] {
        let created = me
            .post(format!("{}/api/records", app.base))
            .json(&json!({"name": name, "price": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let stored = me
        .put(format!("{}/api/upload/diary.txt", app.base))
        .body("dear diary, the cellar key is under the mat")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), StatusCode::CREATED);
    // Someone else keeps using the database meanwhile.
    let other = TestApp::client_for(&app.register_and_login(&unique("other")).await);
    other
        .post(format!("{}/api/records", app.base))
        .json(&json!({"name": "apple", "price": 3}))
        .send()
        .await
        .unwrap();

    let before = files_under(app.data_dir.path());
    assert!(
        before
            .iter()
            .any(|(_, bytes)| contains(bytes, "quinceberry")),
        "the scan can see a record's bytes before the erasure"
    );
    assert_eq!(erase(&app, &token).await, StatusCode::NO_CONTENT);
    for (path, bytes) in files_under(app.data_dir.path()) {
        for needle in [
            user_id.as_str(),
            username.as_str(),
            "quinceberry",
            "medlarfruit",
            "loquatpie",
            "cellar key",
            "diary.txt",
        ] {
            assert!(
                !contains(&bytes, needle),
                "{} still holds {needle:?}",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rectification_applies_all_of_its_changes_or_none() {
    for (backend, app) in backends().await {
        let username = unique("atomic");
        let taken = unique("taken");
        app.register_and_login(&taken).await;
        let token = app.register_and_login(&username).await;
        let other_session = app.login(&username).await;
        let refused = patch_me(
            &app,
            &token,
            json!({"username": taken, "password": NEW_PASSWORD, "currentPassword": PASSWORD}),
        )
        .await;
        assert_eq!(refused.status(), StatusCode::CONFLICT, "{backend}");
        assert_eq!(
            login(&app, &username, PASSWORD).await.0,
            StatusCode::OK,
            "{backend}: the password did not change"
        );
        assert_eq!(
            me_status(&app, &other_session).await,
            StatusCode::OK,
            "{backend}: no session was revoked"
        );
        let renamed = unique("renamed");
        let applied = patch_me(
            &app,
            &token,
            json!({"username": renamed, "password": NEW_PASSWORD, "currentPassword": PASSWORD}),
        )
        .await;
        assert_eq!(applied.status(), StatusCode::OK, "{backend}");
        assert_eq!(
            login(&app, &renamed, NEW_PASSWORD).await.0,
            StatusCode::OK,
            "{backend}"
        );
        assert_eq!(
            login(&app, &username, NEW_PASSWORD).await.0,
            StatusCode::UNAUTHORIZED,
            "{backend}: the old name is free again"
        );
    }
}

#[tokio::test]
async fn names_that_hide_or_reorder_text_are_refused_and_downloads_are_sandboxed() {
    let app = spawn_app().await.signed_in().await;
    for name in ["%E2%80%AEgnp.exe", "a%E2%80%8Bb.txt", "x%E2%81%A6y.txt"] {
        let response = app
            .client
            .put(format!("{}/api/upload/{name}", app.base))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
    }
    for name in [
        "\u{202e}\u{200b}",
        "a\u{2028}b",
        "\u{feff}",
        "\u{3164}",
        "\u{2800}",
        "\u{0300}\u{034f}",
    ] {
        let response = app
            .client
            .post(format!("{}/api/records", app.base))
            .json(&json!({"name": name, "price": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name:?}");
    }
    let missing = app
        .client
        .get(format!("{}/api/upload/private/doc.txt", app.base))
        .send()
        .await
        .unwrap();
    let message = missing.json::<Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(message, r#"no file "private/doc.txt""#);
    for content_type in ["application/pdfx", "application/pdf", "text/plain"] {
        app.client
            .put(format!("{}/api/upload/f", app.base))
            .header("content-type", content_type)
            .body("%PDF-1.7")
            .send()
            .await
            .unwrap();
        let download = app
            .client
            .get(format!("{}/api/upload/f", app.base))
            .send()
            .await
            .unwrap();
        let headers = download.headers();
        assert_eq!(
            headers["x-content-type-options"], "nosniff",
            "{content_type}"
        );
        assert_eq!(
            headers["content-security-policy"], "default-src 'none'; sandbox",
            "{content_type}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chunked_upload_over_the_hosts_limit_is_a_413() {
    let app = spawn_app().await.signed_in().await;
    let token = app.token.clone().unwrap();
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let head = format!(
        "PUT /api/upload/big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // 101 chunks of 1 MiB: one more than the host accepts. The server may stop reading
    // early; a failed write just means it answered already.
    let chunk = vec![b'x'; 1024 * 1024];
    for _ in 0..101 {
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(&chunk);
        framed.extend_from_slice(b"\r\n");
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 413"),
        "{}",
        response.lines().next().unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_renames_leave_no_claim_behind() {
    let app = spawn_app().await;
    let username = unique("alias");
    let token = app.register_and_login(&username).await;
    let aliases: Vec<String> = (0..20).map(|i| format!("{username}-{i}")).collect();
    let statuses = join_all(
        aliases
            .iter()
            .map(|alias| patch_me(&app, &token, json!({"username": alias}))),
    )
    .await
    .into_iter()
    .map(|response| response.status())
    .collect::<Vec<_>>();
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let profile = TestApp::client_for(&token)
        .get(format!("{}/api/users/me", app.base))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["profile"]
        .clone();
    let held = profile["username"].as_str().unwrap().to_owned();
    let user_id = profile["id"].as_str().unwrap().to_owned();
    for alias in aliases.iter().chain([&username]) {
        let expected = if *alias == held {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(login(&app, alias, PASSWORD).await.0, expected, "{alias}");
    }
    assert_eq!(erase(&app, &token).await, StatusCode::NO_CONTENT);
    let traces: Vec<String> = scan_embedded(&app)
        .into_iter()
        .filter(|row| row.contains(&user_id) || row.contains(&username))
        .collect();
    assert!(traces.is_empty(), "{traces:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_change_racing_a_logout_is_all_or_nothing() {
    for (backend, app) in backends().await {
        for trial in 0..3 {
            let username = unique("logout");
            let token = app.register_and_login(&username).await;
            let (change, _) = tokio::join!(
                patch_me(
                    &app,
                    &token,
                    json!({"password": NEW_PASSWORD, "currentPassword": PASSWORD}),
                ),
                async {
                    tokio::time::sleep(Duration::from_millis(5 * trial)).await;
                    TestApp::client_for(&token)
                        .post(format!("{}/api/users/logout", app.base))
                        .send()
                        .await
                        .unwrap()
                }
            );
            let (now_valid, now_refused) = match change.status() {
                StatusCode::OK => (NEW_PASSWORD, PASSWORD),
                StatusCode::UNAUTHORIZED => (PASSWORD, NEW_PASSWORD),
                other => panic!("{backend} #{trial}: {other}"),
            };
            assert_eq!(login(&app, &username, now_valid).await.0, StatusCode::OK);
            assert_eq!(
                login(&app, &username, now_refused).await.0,
                StatusCode::UNAUTHORIZED,
                "{backend} #{trial}"
            );
        }
    }
}
