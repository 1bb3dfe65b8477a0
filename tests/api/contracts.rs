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
