//! One suite, two backends: every storage behaviour the domain services rely on, run against
//! the embedded SQLite store and against Azure Table storage (Azurite, started by
//! scripts/test). A behaviour that differs between them fails here.

use crate::common;

use std::sync::Arc;

use handler::{
    domain::{Owner, Price, RecordName},
    storage::{
        azure::Connection,
        embedded::SqliteStore,
        records::{Fields, ListOptions, Patch, Records},
        tables::AzureTableStore,
        ETag, EntityStore, IfMatch, Properties, Query, StorageError,
    },
};
use serde_json::{json, Value};

struct Backend {
    name: &'static str,
    store: Arc<dyn EntityStore>,
    table: String,
    _dir: Option<tempfile::TempDir>,
}

async fn embedded() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("tables.sqlite3"))
        .await
        .unwrap();
    Backend {
        name: "embedded",
        store: Arc::new(store),
        table: "conformance".into(),
        _dir: Some(dir),
    }
}

async fn azurite() -> Backend {
    let connection = Connection::ConnectionString(common::azurite_connection_string());
    let store = AzureTableStore::new(&connection, std::time::Duration::from_secs(10)).unwrap();
    let table = common::unique_table("conformance");
    store
        .ensure_table(&table)
        .await
        .expect("create table on Azurite");
    Backend {
        name: "azurite",
        store: Arc::new(store),
        table,
        _dir: None,
    }
}

async fn backends() -> Vec<Backend> {
    vec![embedded().await, azurite().await]
}

fn props(value: Value) -> Properties {
    value.as_object().unwrap().clone()
}

#[tokio::test]
async fn insert_get_and_duplicate_keys() {
    for b in backends().await {
        let (store, t) = (&b.store, b.table.as_str());
        let properties =
            props(json!({"name": "apple ðŸŽ", "price": 300, "big": 1_i64 << 40, "ok": true}));
        let etag = store.insert(t, "p1", "r1", &properties).await.unwrap();
        let entity = store.get(t, "p1", "r1").await.unwrap();
        assert_eq!(entity.row_key, "r1", "{}", b.name);
        assert_eq!(
            entity.properties, properties,
            "{}: values round-trip",
            b.name
        );
        assert_eq!(
            entity.etag, etag,
            "{}: insert and get agree on the ETag",
            b.name
        );

        let again = store.insert(t, "p1", "r1", &properties).await;
        assert!(
            matches!(again, Err(StorageError::AlreadyExists)),
            "{}: {again:?}",
            b.name
        );
        // The same row key in another partition is another entity.
        store.insert(t, "p2", "r1", &properties).await.unwrap();

        let missing = store.get(t, "p1", "nope").await;
        assert!(
            matches!(missing, Err(StorageError::NotFound)),
            "{}: {missing:?}",
            b.name
        );
        store
            .ensure_table(t)
            .await
            .expect("ensure_table is idempotent");
    }
}

#[tokio::test]
async fn conditional_replace_and_delete() {
    for b in backends().await {
        let (store, t) = (&b.store, b.table.as_str());
        let first = store
            .insert(t, "p", "r", &props(json!({"v": 1})))
            .await
            .unwrap();
        let second = store
            .replace(t, "p", "r", &props(json!({"v": 2})), IfMatch::ETag(&first))
            .await
            .unwrap();
        assert_ne!(first, second, "{}: a write changes the ETag", b.name);

        let stale = store
            .replace(t, "p", "r", &props(json!({"v": 3})), IfMatch::ETag(&first))
            .await;
        assert!(
            matches!(stale, Err(StorageError::PreconditionFailed)),
            "{}: {stale:?}",
            b.name
        );
        assert_eq!(
            store.get(t, "p", "r").await.unwrap().properties["v"],
            2,
            "{}",
            b.name
        );

        let any = store
            .replace(t, "p", "r", &props(json!({"v": 4})), IfMatch::Any)
            .await
            .unwrap();
        let missing = store
            .replace(t, "p", "missing", &props(json!({"v": 1})), IfMatch::Any)
            .await;
        assert!(
            matches!(missing, Err(StorageError::NotFound)),
            "{}: {missing:?}",
            b.name
        );

        let stale = store.delete(t, "p", "r", IfMatch::ETag(&second)).await;
        assert!(
            matches!(stale, Err(StorageError::PreconditionFailed)),
            "{}: {stale:?}",
            b.name
        );
        store
            .delete(t, "p", "r", IfMatch::ETag(&any))
            .await
            .unwrap();
        let gone = store.delete(t, "p", "r", IfMatch::Any).await;
        assert!(
            matches!(gone, Err(StorageError::NotFound)),
            "{}: {gone:?}",
            b.name
        );
        let bogus = ETag("W/\"bogus\"".into());
        let gone = store.delete(t, "p", "r", IfMatch::ETag(&bogus)).await;
        assert!(
            matches!(gone, Err(StorageError::NotFound)),
            "{}: {gone:?}",
            b.name
        );
    }
}

#[tokio::test]
async fn queries_are_ordered_paged_filtered_and_confined_to_the_partition() {
    for b in backends().await {
        let (store, t) = (&b.store, b.table.as_str());
        for (row, name) in [("c", "pear"), ("a", "apple"), ("b", "pear"), ("d", "fig")] {
            store
                .insert(t, "mine", row, &props(json!({"name": name})))
                .await
                .unwrap();
        }
        store
            .insert(t, "theirs", "a0", &props(json!({"name": "pear"})))
            .await
            .unwrap();

        let rows = |entities: Vec<handler::storage::Entity>| {
            entities.into_iter().map(|e| e.row_key).collect::<Vec<_>>()
        };
        let all = store
            .query(
                t,
                "mine",
                Query {
                    limit: 10,
                    ..Query::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(rows(all), ["a", "b", "c", "d"], "{}", b.name);

        let page = store
            .query(
                t,
                "mine",
                Query {
                    after_row_key: Some("a"),
                    limit: 2,
                    ..Query::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(rows(page), ["b", "c"], "{}", b.name);

        let pears = store
            .query(
                t,
                "mine",
                Query {
                    property_equals: Some(("name", "pear")),
                    limit: 10,
                    ..Query::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(rows(pears), ["b", "c"], "{}", b.name);

        for hostile in ["x' or 'a' eq 'a", "pear' or name ne '", "') or (1 eq 1"] {
            let none = store
                .query(
                    t,
                    "mine",
                    Query {
                        property_equals: Some(("name", hostile)),
                        limit: 10,
                        ..Query::default()
                    },
                )
                .await
                .unwrap();
            assert!(
                none.is_empty(),
                "{}: {hostile:?} matched {:?}",
                b.name,
                rows(none)
            );
        }
        let quoted = "o'brien";
        store
            .insert(t, "mine", "e", &props(json!({"name": quoted})))
            .await
            .unwrap();
        let found = store
            .query(
                t,
                "mine",
                Query {
                    property_equals: Some(("name", quoted)),
                    limit: 10,
                    ..Query::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            rows(found),
            ["e"],
            "{}: quotes are data, not syntax",
            b.name
        );
    }
}

#[tokio::test]
async fn records_page_through_everything_once_in_creation_order() {
    for b in backends().await {
        let records = Records::new(b.store.clone(), b.table.clone());
        let owner = owner();
        let mut created = Vec::new();
        for i in 0..23 {
            let name = if i % 2 == 0 { "even" } else { "odd" };
            let record = records
                .create(
                    &owner,
                    Fields {
                        name: RecordName::parse(name).unwrap(),
                        price: Price::parse(i).unwrap(),
                    },
                )
                .await
                .unwrap();
            created.push(record.id);
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = records
                .list(
                    &owner,
                    ListOptions {
                        limit: Some(10),
                        after: after.clone(),
                        ..ListOptions::default()
                    },
                )
                .await
                .unwrap();
            assert!(page.records.len() <= 10);
            seen.extend(page.records.into_iter().map(|r| r.id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(
            seen, created,
            "{}: every record once, in creation order",
            b.name
        );

        let evens = records
            .list(
                &owner,
                ListOptions {
                    name: Some(RecordName::parse("even").unwrap()),
                    limit: Some(1000),
                    after: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(evens.records.len(), 12, "{}", b.name);
        assert!(evens.next.is_none(), "{}", b.name);

        let other = Owner::new("someone-else").unwrap();
        let theirs = records.list(&other, ListOptions::default()).await.unwrap();
        assert!(
            theirs.records.is_empty(),
            "{}: owners see only their own",
            b.name
        );
    }
}

#[tokio::test]
async fn concurrent_patches_with_one_etag_let_exactly_one_through() {
    for b in backends().await {
        let records = Records::new(b.store.clone(), b.table.clone());
        let owner = owner();
        let record = records
            .create(
                &owner,
                Fields {
                    name: RecordName::parse("apple").unwrap(),
                    price: Price::parse(1).unwrap(),
                },
            )
            .await
            .unwrap();
        let attempts = (0..50).map(|i| {
            let (records, owner, id, etag) = (
                records.clone(),
                owner.clone(),
                record.id.clone(),
                record.etag.clone(),
            );
            tokio::spawn(async move {
                let patch = Patch {
                    price: Some(Price::parse(1000 + i).unwrap()),
                    name: None,
                };
                (i, records.patch(&owner, &id, patch, Some(&etag)).await)
            })
        });
        let results = futures::future::join_all(attempts).await;
        let mut winners = Vec::new();
        for result in results {
            match result.unwrap() {
                (i, Ok(_)) => winners.push(i),
                (_, Err(StorageError::PreconditionFailed)) => {}
                (_, Err(other)) => panic!("{}: unexpected {other:?}", b.name),
            }
        }
        assert_eq!(winners.len(), 1, "{}: exactly one PATCH wins", b.name);
        let stored = records.get(&owner, &record.id).await.unwrap();
        assert_eq!(
            stored.price.get(),
            1000 + winners[0],
            "{}: the winner's update is the one kept",
            b.name
        );
    }
}

#[tokio::test]
async fn concurrent_unconditional_patches_lose_no_update() {
    for b in backends().await {
        let records = Records::new(b.store.clone(), b.table.clone());
        let owner = owner();
        let record = records
            .create(
                &owner,
                Fields {
                    name: RecordName::parse("apple").unwrap(),
                    price: Price::parse(1).unwrap(),
                },
            )
            .await
            .unwrap();
        // Half change the name, half the price; read-modify-write must keep both kinds.
        // Fewer writers than the service's retry budget, so every one of them gets through.
        let attempts = (0..8).map(|i| {
            let (records, owner, id) = (records.clone(), owner.clone(), record.id.clone());
            tokio::spawn(async move {
                let patch = if i % 2 == 0 {
                    Patch {
                        name: Some(RecordName::parse("pear").unwrap()),
                        price: None,
                    }
                } else {
                    Patch {
                        name: None,
                        price: Some(Price::parse(999).unwrap()),
                    }
                };
                records.patch(&owner, &id, patch, None).await
            })
        });
        for result in futures::future::join_all(attempts).await {
            result
                .unwrap()
                .unwrap_or_else(|e| panic!("{}: {e:?}", b.name));
        }
        let stored = records.get(&owner, &record.id).await.unwrap();
        assert_eq!(
            (stored.name.as_str(), stored.price.get()),
            ("pear", 999),
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn the_embedded_store_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tables.sqlite3");
    {
        let store = SqliteStore::open(path.clone()).await.unwrap();
        store
            .insert("t", "p", "r", &props(json!({"v": 1})))
            .await
            .unwrap();
    }
    let reopened = SqliteStore::open(path).await.unwrap();
    assert_eq!(
        reopened.get("t", "p", "r").await.unwrap().properties["v"],
        1
    );
}

// ---- Blobs: the same behaviours on the directory store and on Azure Blob storage ----------

use bytes::Bytes;
use futures::{stream, TryStreamExt};
use handler::{
    domain::FileName,
    storage::{
        blobs::AzureBlobStore,
        directory::DirectoryStore,
        files::{FileError, Files, BLOCK_BYTES},
        BlobStore,
    },
};

struct BlobBackend {
    name: &'static str,
    store: Arc<dyn BlobStore>,
    container: String,
    dir: Option<tempfile::TempDir>,
}

async fn blob_backends() -> Vec<BlobBackend> {
    let dir = tempfile::tempdir().unwrap();
    let directory = DirectoryStore::new(dir.path().join("blobs"));
    let container = common::unique_table("conf");
    directory.ensure_container(&container).await.unwrap();
    let connection = Connection::ConnectionString(common::azurite_connection_string());
    let azure = AzureBlobStore::new(&connection, std::time::Duration::from_secs(30)).unwrap();
    let azure_container = common::unique_table("conf");
    azure
        .ensure_container(&azure_container)
        .await
        .expect("create container on Azurite");
    azure
        .ensure_container(&azure_container)
        .await
        .expect("idempotent");
    vec![
        BlobBackend {
            name: "directory",
            store: Arc::new(directory),
            container,
            dir: Some(dir),
        },
        BlobBackend {
            name: "azurite",
            store: Arc::new(azure),
            container: azure_container,
            dir: None,
        },
    ]
}

impl BlobBackend {
    fn files(&self, max_bytes: u64) -> Files {
        Files::new(self.store.clone(), self.container.clone(), max_bytes)
    }

    /// The directory store's unfinished uploads: there must be none after any upload ends.
    fn staged_files(&self) -> usize {
        self.dir.as_ref().map_or(0, |dir| {
            std::fs::read_dir(
                dir.path()
                    .join("blobs")
                    .join(&self.container)
                    .join(".staging"),
            )
            .map(|entries| entries.count())
            .unwrap_or(0)
        })
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// The body as a client would send it: uneven chunks.
fn chunks(
    data: &[u8],
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let owned: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(100_003)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(owned)
}

async fn read_all(
    files: &Files,
    owner: &Owner,
    name: &FileName,
    range: std::ops::Range<u64>,
) -> Vec<u8> {
    let info = files.info(owner, name).await.unwrap();
    let stream = files.read(owner, name, range, &info.etag).await.unwrap();
    let parts: Vec<Bytes> = stream.try_collect().await.unwrap();
    parts.concat()
}

#[tokio::test]
async fn uploads_of_several_blocks_read_back_identical_in_whole_and_in_ranges() {
    let data = pattern(2 * BLOCK_BYTES + 12_345);
    let sha = {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(&data))
    };
    for b in blob_backends().await {
        let files = b.files(u64::MAX);
        let (owner, name) = (owner(), FileName::parse("dir/data.bin").unwrap());
        let info = files
            .upload(&owner, &name, "application/octet-stream", chunks(&data))
            .await
            .unwrap();
        assert_eq!(info.name, "dir/data.bin", "{}", b.name);
        assert_eq!(info.size, data.len() as u64, "{}", b.name);
        assert_eq!(info.sha256.as_deref(), Some(sha.as_str()), "{}", b.name);
        assert_eq!(
            files.info(&owner, &name).await.unwrap(),
            info,
            "{}: upload and info agree",
            b.name
        );

        assert!(
            read_all(&files, &owner, &name, 0..data.len() as u64).await == data,
            "{}: whole file",
            b.name
        );
        assert_eq!(
            read_all(&files, &owner, &name, 0..100).await,
            data[..100],
            "{}",
            b.name
        );
        let (start, end) = (BLOCK_BYTES as u64 - 10, BLOCK_BYTES as u64 + 10);
        assert_eq!(
            read_all(&files, &owner, &name, start..end).await,
            data[start as usize..end as usize],
            "{}: a range across a block boundary",
            b.name
        );
        assert_eq!(b.staged_files(), 0, "{}", b.name);
    }
}

#[tokio::test]
async fn empty_files_work() {
    for b in blob_backends().await {
        let files = b.files(u64::MAX);
        let (owner, name) = (owner(), FileName::parse("empty.txt").unwrap());
        let info = files
            .upload(&owner, &name, "text/plain", chunks(&[]))
            .await
            .unwrap();
        assert_eq!(info.size, 0, "{}", b.name);
        assert_eq!(
            info.sha256.as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            "{}",
            b.name
        );
        assert!(
            read_all(&files, &owner, &name, 0..0).await.is_empty(),
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn replacing_a_file_changes_its_etag_and_stale_reads_fail() {
    for b in blob_backends().await {
        let files = b.files(u64::MAX);
        let (owner, name) = (owner(), FileName::parse("v.txt").unwrap());
        let first = files
            .upload(&owner, &name, "text/plain", chunks(b"one"))
            .await
            .unwrap();
        let second = files
            .upload(&owner, &name, "text/plain", chunks(b"two!"))
            .await
            .unwrap();
        assert_ne!(first.etag, second.etag, "{}", b.name);
        assert_eq!(
            read_all(&files, &owner, &name, 0..4).await,
            b"two!",
            "{}",
            b.name
        );
        let stale = match files.read(&owner, &name, 0..3, &first.etag).await {
            Err(error) => Err(error),
            Ok(stream) => stream.try_collect::<Vec<Bytes>>().await.map(|_| ()),
        };
        assert!(
            matches!(stale, Err(StorageError::PreconditionFailed)),
            "{}: {stale:?}",
            b.name
        );
    }
}

#[tokio::test]
async fn an_interrupted_upload_leaves_nothing_behind() {
    for b in blob_backends().await {
        let files = b.files(u64::MAX);
        let (owner, name) = (owner(), FileName::parse("broken.bin").unwrap());
        let body = stream::iter(vec![
            Ok(Bytes::from(pattern(BLOCK_BYTES + 1))),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "client went away",
            )),
        ]);
        let result = files
            .upload(&owner, &name, "application/octet-stream", body)
            .await;
        assert!(
            matches!(result, Err(FileError::Interrupted(_))),
            "{}: {result:?}",
            b.name
        );
        let info = files.info(&owner, &name).await;
        assert!(
            matches!(info, Err(StorageError::NotFound)),
            "{}: {info:?}",
            b.name
        );
        assert!(
            files
                .list(&owner, "", None, None)
                .await
                .unwrap()
                .files
                .is_empty(),
            "{}",
            b.name
        );
        assert_eq!(b.staged_files(), 0, "{}", b.name);
    }
}

#[tokio::test]
async fn the_size_limit_is_enforced_while_streaming() {
    for b in blob_backends().await {
        let files = b.files(10);
        let (owner, name) = (owner(), FileName::parse("big.bin").unwrap());
        let result = files
            .upload(&owner, &name, "application/octet-stream", chunks(&[7; 11]))
            .await;
        assert!(
            matches!(result, Err(FileError::TooLarge { limit: 10 })),
            "{}: {result:?}",
            b.name
        );
        assert!(
            matches!(files.info(&owner, &name).await, Err(StorageError::NotFound)),
            "{}",
            b.name
        );
        files
            .upload(&owner, &name, "application/octet-stream", chunks(&[7; 10]))
            .await
            .unwrap();
        assert_eq!(b.staged_files(), 0, "{}", b.name);
    }
}

#[tokio::test]
async fn listing_is_ordered_paged_prefixed_and_per_owner() {
    for b in blob_backends().await {
        let files = b.files(u64::MAX);
        let owner = owner();
        for name in ["b.txt", "a/2.txt", "a/1.txt", "c.txt", "a/3.txt"] {
            files
                .upload(
                    &owner,
                    &FileName::parse(name).unwrap(),
                    "text/plain",
                    chunks(name.as_bytes()),
                )
                .await
                .unwrap();
        }
        let other = Owner::new("someone").unwrap();
        files
            .upload(
                &other,
                &FileName::parse("a/secret.txt").unwrap(),
                "text/plain",
                chunks(b"x"),
            )
            .await
            .unwrap();

        let mut seen = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = files
                .list(&owner, "", marker.as_deref(), Some(2))
                .await
                .unwrap();
            assert!(page.files.len() <= 2, "{}", b.name);
            seen.extend(page.files.into_iter().map(|f| f.name));
            match page.next {
                Some(next) => marker = Some(next),
                None => break,
            }
        }
        assert_eq!(
            seen,
            ["a/1.txt", "a/2.txt", "a/3.txt", "b.txt", "c.txt"],
            "{}",
            b.name
        );
        let under_a: Vec<String> = files
            .list(&owner, "a/", None, None)
            .await
            .unwrap()
            .files
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(under_a, ["a/1.txt", "a/2.txt", "a/3.txt"], "{}", b.name);

        files
            .delete(&owner, &FileName::parse("b.txt").unwrap())
            .await
            .unwrap();
        let gone = files
            .delete(&owner, &FileName::parse("b.txt").unwrap())
            .await;
        assert!(
            matches!(gone, Err(StorageError::NotFound)),
            "{}: {gone:?}",
            b.name
        );
        let names: Vec<String> = files
            .list(&owner, "", None, None)
            .await
            .unwrap()
            .files
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(
            names,
            ["a/1.txt", "a/2.txt", "a/3.txt", "c.txt"],
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn blob_names_cannot_escape_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirectoryStore::new(dir.path().join("blobs"));
    store.ensure_container("c1").await.unwrap();
    let files = Files::new(Arc::new(store), "c1".into(), u64::MAX);
    // Owner keys are validated, names are validated, and on disk every name is a hash anyway.
    let owner = owner();
    files
        .upload(
            &owner,
            &FileName::parse("x/y.txt").unwrap(),
            "text/plain",
            chunks(b"ok"),
        )
        .await
        .unwrap();
    let outside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, [std::ffi::OsString::from("blobs")]);
}

/// An owner as the app makes them: a user id.
fn owner() -> Owner {
    Owner::new("0194f0a2-7c3e-4b1a-9d4e-1234567890ab").unwrap()
}
