//! Accounts end to end: registration rules, login, lockout, sessions, ownership of records and
//! files, Easy Auth, and the GDPR rights (export, rectification, erasure that leaves nothing).

use crate::common::{
    self, azurite_settings_for_users, spawn_app, spawn_app_with, TestApp, PASSWORD,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", app.base))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn registration_validates_and_names_are_unique_case_insensitively() {
    let app = spawn_app().await;
    let created = post(
        &app,
        "/api/users",
        json!({"username": "Ada", "password": PASSWORD}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["username"], "ada");
    assert!(
        uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok(),
        "the key is a UUID"
    );
    assert!(body["createdAt"].is_string());
    assert!(body.get("password").is_none() && body.get("passwordHash").is_none());

    let taken = post(
        &app,
        "/api/users",
        json!({"username": "ADA", "password": PASSWORD}),
    )
    .await;
    assert_eq!(error_of(taken).await.0, StatusCode::CONFLICT);

    let cases = [
        (json!({"username": "ab", "password": PASSWORD}), "username"),
        (
            json!({"username": "ada lovelace", "password": PASSWORD}),
            "username",
        ),
        (json!({"username": "grace", "password": "short"}), "12"),
        (
            json!({"username": "grace.hopper1", "password": "Grace.Hopper1"}),
            "username",
        ),
        (
            json!({"username": "grace", "password": "password1234"}),
            "common",
        ),
        (
            json!({"username": "grace", "password": PASSWORD, "admin": true}),
            "admin",
        ),
    ];
    for (body, mentions) in cases {
        let (status, code, message) = error_of(post(&app, "/api/users", body.clone()).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_input"),
            "{body}"
        );
        assert!(message.contains(mentions), "{body}: {message}");
    }
}

#[tokio::test]
async fn concurrent_registrations_of_one_name_let_exactly_one_through() {
    for app in [
        spawn_app().await,
        spawn_app_with(&azurite_settings_for_users()).await,
    ] {
        let attempts = (0..10).map(|_| {
            post(
                &app,
                "/api/users",
                json!({"username": "linus", "password": PASSWORD}),
            )
        });
        let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
            .await
            .iter()
            .map(|r| r.status())
            .collect();
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::CREATED)
                .count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
            "{statuses:?}"
        );
    }
}

#[tokio::test]
async fn login_logout_and_the_same_answer_for_wrong_password_and_unknown_user() {
    let app = spawn_app().await;
    let token = app.register_and_login("grace").await;
    let wrong = post(
        &app,
        "/api/users/login",
        json!({"username": "grace", "password": "not the password at all"}),
    )
    .await;
    let unknown = post(
        &app,
        "/api/users/login",
        json!({"username": "nobody", "password": PASSWORD}),
    )
    .await;
    let wrong = error_of(wrong).await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, error_of(unknown).await, "no user enumeration");

    let me = TestApp::client_for(&token)
        .get(format!("{}/api/users/me", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    let out = TestApp::client_for(&token)
        .post(format!("{}/api/users/logout", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = TestApp::client_for(&token)
        .get(format!("{}/api/users/me", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(after.headers()["www-authenticate"], "Bearer");

    for bad in [
        "Bearer nonsense",
        "Bearer ",
        "Basic Zm9vOmJhcg==",
        &format!("Bearer {}", "A".repeat(64)),
    ] {
        let response = reqwest::Client::new()
            .get(format!("{}/api/users/me", app.base))
            .header("authorization", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad}");
    }
}

#[tokio::test]
async fn five_failures_lock_the_account_on_every_instance() {
    // Two instances of the handler sharing one Azurite: the lock is in the table.
    let settings = azurite_settings_for_users();
    let first = spawn_app_with(&settings).await;
    let second = spawn_app_with(&settings).await;
    first.register_and_login("hedy").await;
    for _ in 0..4 {
        let response = post(
            &first,
            "/api/users/login",
            json!({"username": "hedy", "password": "wrong password, again"}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let fifth = post(
        &second,
        "/api/users/login",
        json!({"username": "hedy", "password": "wrong password, again"}),
    )
    .await;
    assert_eq!(fifth.status(), StatusCode::TOO_MANY_REQUESTS);
    let locked = post(
        &first,
        "/api/users/login",
        json!({"username": "hedy", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let retry_after: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn records_and_files_need_a_user_and_belong_to_them() {
    let app = spawn_app().await;
    let anonymous = reqwest::Client::new();
    for path in ["/api/records", "/api/upload"] {
        let response = anonymous
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let alice = TestApp::client_for(&app.register_and_login("alice").await);
    let mallory = TestApp::client_for(&app.register_and_login("mallory").await);

    let record: Value = alice
        .post(format!("{}/api/records", app.base))
        .json(&json!({"name": "apple", "price": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let record_url = format!(
        "{}/api/records/{}",
        app.base,
        record["id"].as_str().unwrap()
    );
    let file_url = format!("{}/api/upload/secret.txt", app.base);
    assert_eq!(
        alice
            .put(&file_url)
            .body("alice's")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );

    assert_eq!(
        mallory.get(&record_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        mallory.get(&file_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let list: Value = mallory
        .get(format!("{}/api/records", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["records"].as_array().unwrap().len(), 0);
    let files: Value = mallory
        .get(format!("{}/api/upload", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(files["files"].as_array().unwrap().len(), 0);
    let patch = mallory
        .patch(&record_url)
        .json(&json!({"price": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        mallory.delete(&record_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        mallory.delete(&file_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // Mallory's own file of the same name is a different file.
    assert_eq!(
        mallory
            .put(&file_url)
            .body("mallory's")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        alice
            .get(&file_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "alice's"
    );
    assert_eq!(
        alice.get(&record_url).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn rectification_changes_name_and_password_and_signs_out_other_sessions() {
    let app = spawn_app().await;
    let first = app.register_and_login("katherine").await;
    let second = app.login("katherine").await;
    app.register_and_login("dorothy").await;
    let me = TestApp::client_for(&first);
    let url = format!("{}/api/users/me", app.base);

    let taken = me
        .patch(&url)
        .json(&json!({"username": "dorothy"}))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let no_current = me
        .patch(&url)
        .json(&json!({"password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_current.status(), StatusCode::BAD_REQUEST);
    let wrong_current = me
        .patch(&url)
        .json(&json!({"password": "a brand new passphrase", "currentPassword": "not my password!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_current.status(), StatusCode::UNAUTHORIZED);

    let changed = me
        .patch(&url)
        .json(&json!({"username": "Katherine.J", "password": "a brand new passphrase", "currentPassword": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let profile: Value = changed.json().await.unwrap();
    assert_eq!(profile["username"], "katherine.j");

    assert_eq!(
        me.get(&url).send().await.unwrap().status(),
        StatusCode::OK,
        "this session stays"
    );
    let other = TestApp::client_for(&second).get(&url).send().await.unwrap();
    assert_eq!(
        other.status(),
        StatusCode::UNAUTHORIZED,
        "other sessions are revoked"
    );
    let old = post(
        &app,
        "/api/users/login",
        json!({"username": "katherine.j", "password": PASSWORD}),
    )
    .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = post(
        &app,
        "/api/users/login",
        json!({"username": "katherine.j", "password": "a brand new passphrase"}),
    )
    .await;
    assert_eq!(new.status(), StatusCode::OK);
    let freed = post(
        &app,
        "/api/users",
        json!({"username": "katherine", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        freed.status(),
        StatusCode::CREATED,
        "the old name is free again"
    );
}

#[tokio::test]
async fn export_then_erasure_leaves_nothing_carrying_the_user_id() {
    let mut azurite = azurite_settings_for_users();
    let records_table = azurite
        .iter()
        .find(|(k, _)| *k == "RECORDS_TABLE")
        .unwrap()
        .1
        .clone();
    let users_table = azurite
        .iter()
        .find(|(k, _)| *k == "USERS_TABLE")
        .unwrap()
        .1
        .clone();
    let sessions_table = azurite
        .iter()
        .find(|(k, _)| *k == "SESSIONS_TABLE")
        .unwrap()
        .1
        .clone();
    let container = azurite
        .iter()
        .find(|(k, _)| *k == "UPLOADS_CONTAINER")
        .unwrap()
        .1
        .clone();
    azurite.push(("SESSION_TTL", "1h".to_owned()));
    for (backend, app) in [
        ("embedded", spawn_app().await),
        ("azurite", spawn_app_with(&azurite).await),
    ] {
        let token = app.register_and_login("margaret").await;
        app.login("margaret").await;
        let me = TestApp::client_for(&token);
        me.post(format!("{}/api/records", app.base))
            .json(&json!({"name": "apple", "price": 3}))
            .send()
            .await
            .unwrap();
        me.put(format!("{}/api/upload/notes/a.txt", app.base))
            .body("hello")
            .send()
            .await
            .unwrap();
        // Someone else's data must survive the erasure.
        let other = TestApp::client_for(&app.register_and_login("annie").await);
        other
            .post(format!("{}/api/records", app.base))
            .json(&json!({"name": "pear", "price": 4}))
            .send()
            .await
            .unwrap();

        let export: Value = me
            .get(format!("{}/api/users/me", app.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = export["profile"]["id"].as_str().unwrap().to_owned();
        assert_eq!(export["profile"]["username"], "margaret", "{backend}");
        assert_eq!(export["records"][0]["name"], "apple", "{backend}");
        assert_eq!(
            export["files"][0]["url"], "/api/upload/notes/a.txt",
            "{backend}"
        );
        assert_eq!(export["activeSessions"], 2, "{backend}");

        let url = format!("{}/api/users/me", app.base);
        let unconfirmed = me.delete(&url).json(&json!({})).send().await.unwrap();
        assert_eq!(unconfirmed.status(), StatusCode::BAD_REQUEST, "{backend}");
        let wrong = me
            .delete(&url)
            .json(&json!({"password": "not my password!"}))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{backend}");
        let erased = me
            .delete(&url)
            .json(&json!({"password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(erased.status(), StatusCode::NO_CONTENT, "{backend}");
        assert_eq!(
            me.get(&url).send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "{backend}"
        );
        let login = post(
            &app,
            "/api/users/login",
            json!({"username": "margaret", "password": PASSWORD}),
        )
        .await;
        assert_eq!(login.status(), StatusCode::UNAUTHORIZED, "{backend}");

        let remaining = match backend {
            "embedded" => scan_embedded(&app),
            _ => scan_azurite(&[&records_table, &users_table, &sessions_table], &container).await,
        };
        assert!(
            !remaining.is_empty(),
            "{backend}: the scan sees the other user's data"
        );
        let leftovers: Vec<&String> = remaining.iter().filter(|row| row.contains(&id)).collect();
        assert!(
            leftovers.is_empty(),
            "{backend}: still carrying {id}: {leftovers:?}"
        );
        let theirs: Value = other
            .get(format!("{}/api/records", app.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(theirs["records"].as_array().unwrap().len(), 1, "{backend}");
    }
}

/// Every row of every table and every stored file name and sidecar in the embedded backend.
pub(crate) fn scan_embedded(app: &TestApp) -> Vec<String> {
    let connection =
        rusqlite::Connection::open(app.data_dir.path().join("tables.sqlite3")).unwrap();
    let mut statement = connection
        .prepare("SELECT tbl || '|' || pk || '|' || rk || '|' || props FROM entities")
        .unwrap();
    let mut rows: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for entry in walk(&app.data_dir.path().join("blobs")) {
        rows.push(entry.display().to_string());
        if let Ok(text) = std::fs::read_to_string(&entry) {
            rows.push(text);
        }
    }
    rows
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Every entity of the given tables and every blob name in the container, straight from Azurite.
pub(crate) async fn scan_azurite(tables: &[&str], container: &str) -> Vec<String> {
    use azure_storage_blobs::prelude::*;
    use futures::StreamExt;
    let connection = common::azurite_connection_string();
    let parsed = azure_storage::ConnectionString::new(&connection).unwrap();
    let credentials = parsed.storage_credentials().unwrap();
    let table_service = azure_data_tables::clients::TableServiceClientBuilder::with_location(
        azure_storage::CloudLocation::Custom {
            account: "devstoreaccount1".into(),
            uri: parsed.table_endpoint.unwrap().to_owned(),
        },
        credentials.clone(),
    )
    .build();
    let mut rows = Vec::new();
    for table in tables {
        let mut pages = table_service
            .table_client(*table)
            .query()
            .into_stream::<serde_json::Value>();
        while let Some(page) = pages.next().await {
            rows.extend(page.unwrap().entities.into_iter().map(|e| e.to_string()));
        }
    }
    let blobs = ClientBuilder::with_location(
        azure_storage::CloudLocation::Custom {
            account: "devstoreaccount1".into(),
            uri: parsed.blob_endpoint.unwrap().to_owned(),
        },
        credentials,
    )
    .container_client(container);
    let mut pages = blobs.list_blobs().include_metadata(true).into_stream();
    while let Some(page) = pages.next().await {
        for blob in page.unwrap().blobs.blobs() {
            rows.push(format!("{} {:?}", blob.name, blob.metadata));
        }
    }
    rows
}

#[tokio::test]
async fn easy_auth_creates_an_account_on_first_sight_only_when_trusted() {
    use base64::Engine as _;
    let principal = base64::engine::general_purpose::STANDARD.encode(
        r#"{"auth_typ":"aad","claims":[{"typ":"http://schemas.microsoft.com/identity/claims/objectidentifier","val":"11111111-2222-3333-4444-555555555555"},{"typ":"preferred_username","val":"Grace@contoso.com"}]}"#,
    );
    let trusted = spawn_app_with(&[("TRUST_EASY_AUTH", "true".to_owned())]).await;
    let client = reqwest::Client::new();
    let me = |app: &TestApp| {
        client
            .get(format!("{}/api/users/me", app.base))
            .header("x-ms-client-principal", principal.clone())
            .send()
    };
    let first: Value = me(&trusted).await.unwrap().json().await.unwrap();
    assert_eq!(first["profile"]["username"], "grace");
    assert_eq!(first["profile"]["signIn"], "easyauth");
    let again: Value = me(&trusted).await.unwrap().json().await.unwrap();
    assert_eq!(
        again["profile"]["id"], first["profile"]["id"],
        "keyed by the provider's user id"
    );

    let untrusted = spawn_app().await;
    assert_eq!(
        me(&untrusted).await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "a forged header is ignored"
    );
}
