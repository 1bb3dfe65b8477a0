//! What outside parties see: stock Azurite (no `--loose`: `scripts/test` starts it as the
//! README tells users to), storage that disappears under a running handler, and the official
//! Azure SDK for Python reading and writing the same storage in the app's documented layout.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{azurite_connection_string, azurite_settings_for_users, spawn_app_with};

fn clients() -> (
    azure_data_tables::clients::TableServiceClient,
    azure_storage_blobs::prelude::BlobServiceClient,
) {
    let connection = azurite_connection_string();
    let parsed = azure_storage::ConnectionString::new(&connection).unwrap();
    let credentials = parsed.storage_credentials().unwrap();
    let tables = azure_data_tables::clients::TableServiceClientBuilder::with_location(
        azure_storage::CloudLocation::Custom {
            account: "devstoreaccount1".into(),
            uri: parsed.table_endpoint.unwrap().to_owned(),
        },
        credentials.clone(),
    )
    .build();
    let blobs = azure_storage_blobs::prelude::ClientBuilder::with_location(
        azure_storage::CloudLocation::Custom {
            account: "devstoreaccount1".into(),
            uri: parsed.blob_endpoint.unwrap().to_owned(),
        },
        credentials,
    )
    .blob_service_client();
    (tables, blobs)
}

#[tokio::test]
async fn tables_and_containers_that_disappear_are_created_again() {
    let settings = azurite_settings_for_users();
    let setting = |name: &str| {
        settings
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
            .unwrap()
    };
    let app = spawn_app_with(&settings).await.signed_in().await;
    // What an Azurite restarted in memory does to a running handler's storage.
    let (tables, blobs) = clients();
    for table in ["USERS_TABLE", "SESSIONS_TABLE", "RECORDS_TABLE"] {
        tables
            .table_client(setting(table))
            .delete()
            .await
            .expect("delete table");
    }
    blobs
        .container_client(setting("UPLOADS_CONTAINER"))
        .delete()
        .await
        .expect("delete container");

    let registered = reqwest::Client::new()
        .post(format!("{}/api/users", app.base))
        .json(&json!({"username": "after-reset", "password": crate::common::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let token = app.login("after-reset").await;
    let client = crate::common::TestApp::client_for(&token);
    let listed = client
        .get(format!("{}/api/upload", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(listed.json::<Value>().await.unwrap()["files"], json!([]));
    blobs
        .container_client(setting("UPLOADS_CONTAINER"))
        .delete()
        .await
        .expect("delete container again");
    let stored = client
        .put(format!("{}/api/upload/back.txt", app.base))
        .body("back again")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), StatusCode::CREATED);
    let record = client
        .post(format!("{}/api/records", app.base))
        .json(&json!({"name": "apple", "price": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(record.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_download_that_fails_midway_is_a_broken_transfer_not_a_short_file() {
    let mut settings = azurite_settings_for_users();
    settings.push(("UPLOAD_MAX_BYTES", (32 * 1024 * 1024).to_string()));
    let app = spawn_app_with(&settings).await.signed_in().await;
    let original = vec![b'a'; 12 * 1024 * 1024];
    let stored = app
        .client
        .put(format!("{}/api/upload/big.bin", app.base))
        .body(original.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), StatusCode::CREATED);
    let mut download = app
        .client
        .get(format!("{}/api/upload/big.bin", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    let first = download.chunk().await.unwrap().expect("a first chunk");
    // The file is replaced while its old version is being read (in 4 MiB ranges, each
    // conditional on the version the download started with).
    let replaced = app
        .client
        .put(format!("{}/api/upload/big.bin", app.base))
        .body(vec![b'b'; 12 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), StatusCode::CREATED);
    let mut received = first.len();
    let outcome = loop {
        match download.chunk().await {
            Ok(Some(chunk)) => {
                assert!(
                    chunk.iter().all(|b| *b == b'a'),
                    "bytes of two versions mixed"
                );
                received += chunk.len();
            }
            Ok(None) => break Ok(received),
            Err(error) => break Err(error),
        }
    };
    match outcome {
        // Read whole before the replacement landed: then it must be all of it.
        Ok(received) => assert_eq!(received, original.len()),
        Err(_) => assert!(received < original.len()),
    }
}

/// Runs the official Azure SDK for Python (`tests/sdk/roundtrip.py`) in the venv that
/// `scripts/test` prepares. Missing is a failure, never a skip.
fn python_sdk(command: &str, args: Value) -> Value {
    let python = std::env::var("SDK_PYTHON").unwrap_or_else(|_| {
        panic!("SDK_PYTHON is not set: run the tests with scripts/test, which installs the Azure SDK for Python")
    });
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/roundtrip.py");
    let output = std::process::Command::new(python)
        .arg(script)
        .arg(command)
        .arg(args.to_string())
        .output()
        .expect("run the Python SDK");
    assert!(
        output.status.success(),
        "roundtrip.py {command} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from roundtrip.py")
}

#[tokio::test]
async fn the_official_python_sdk_reads_what_the_handler_wrote_and_the_other_way_round() {
    let settings = azurite_settings_for_users();
    let setting = |name: &str| {
        settings
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
            .unwrap()
    };
    let app = spawn_app_with(&settings).await.signed_in().await;
    let record: Value = app
        .client
        .post(format!("{}/api/records", app.base))
        .json(&json!({"name": "quince", "price": 420}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uploaded = app
        .client
        .put(format!("{}/api/upload/sdk/hello.txt", app.base))
        .header("content-type", "text/plain")
        .body("hello from the handler")
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let profile = app
        .client
        .get(format!("{}/api/users/me", app.base))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["profile"]
        .clone();
    let common = json!({
        "connection": azurite_connection_string(),
        "records_table": setting("RECORDS_TABLE"),
        "users_table": setting("USERS_TABLE"),
        "container": setting("UPLOADS_CONTAINER"),
        "user_id": profile["id"],
    });
    let mut read = common.clone();
    read["record_id"] = record["id"].clone();
    read["file_name"] = json!("sdk/hello.txt");
    let seen = tokio::task::spawn_blocking(move || python_sdk("read", read))
        .await
        .unwrap();
    assert_eq!(seen["record"]["name"], "quince");
    assert_eq!(seen["record"]["price"], 420);
    assert_eq!(seen["record"]["createdAt"], record["createdAt"]);
    assert_eq!(seen["username"], profile["username"]);
    assert_eq!(seen["has_password_hash"], true);
    assert_eq!(seen["file"]["content"], "hello from the handler");
    assert_eq!(seen["file"]["content_type"], "text/plain");
    assert_eq!(seen["file"]["sha256_matches"], true, "{seen}");

    let mut write = common;
    write["record_name"] = json!("medlar");
    write["record_price"] = json!(7);
    write["file_name"] = json!("from-sdk.txt");
    write["file_content"] = json!("hello from the SDK");
    let written = tokio::task::spawn_blocking(move || python_sdk("write", write))
        .await
        .unwrap();
    let one: Value = app
        .client
        .get(format!(
            "{}/api/records/{}",
            app.base,
            written["record_id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (one["name"].as_str(), one["price"].as_i64()),
        (Some("medlar"), Some(7))
    );
    let file = app
        .client
        .get(format!("{}/api/upload/from-sdk.txt", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.text().await.unwrap(), "hello from the SDK");
    let listing: Value = app
        .client
        .get(format!("{}/api/upload?prefix=from-sdk", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listing["files"][0]["name"], "from-sdk.txt");
    assert!(listing["files"][0]["sha256"].is_string(), "{listing}");
}
