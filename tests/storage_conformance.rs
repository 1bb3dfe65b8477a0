//! One suite, two backends: every storage behaviour the domain services rely on, run against
//! the embedded SQLite store and against Azure Table storage (Azurite, started by
//! scripts/test). A behaviour that differs between them fails here.

mod common;

use std::sync::Arc;

use handler::storage::{
    azure::Connection,
    embedded::SqliteStore,
    records::{Fields, ListOptions, Owner, Patch, Price, RecordName, Records},
    tables::AzureTableStore,
    ETag, EntityStore, IfMatch, Properties, Query, StorageError,
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
        let owner = Owner::public();
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
        let owner = Owner::public();
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
            stored.price,
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
        let owner = Owner::public();
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
            (stored.name.as_str(), stored.price),
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
