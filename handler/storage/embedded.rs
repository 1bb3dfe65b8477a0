//! The embedded backend: SQLite in one file under `DATA_DIR`, with Table storage's semantics
//! (partition + row keys, ETags, conditional writes, row-key order). rusqlite is synchronous,
//! so every call runs on the blocking pool; one connection behind a mutex keeps each
//! conditional write atomic.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::{ETag, Entity, EntityStore, IfMatch, Properties, Query, StorageError};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
}

fn backend(error: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(error.to_string())
}

fn new_etag() -> ETag {
    ETag(format!("W/\"{}\"", uuid::Uuid::new_v4().simple()))
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and its directory.
    pub async fn open(path: PathBuf) -> Result<Self, StorageError> {
        let opened_path = path.clone();
        let connection =
            tokio::task::spawn_blocking(move || -> Result<Connection, StorageError> {
                if let Some(dir) = opened_path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StorageError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                let connection = Connection::open(&opened_path).map_err(|e| {
                    StorageError::Unavailable(format!("cannot open {}: {e}", opened_path.display()))
                })?;
                connection
                    .execute_batch(
                        "PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = NORMAL;
                     PRAGMA secure_delete = ON;
                     PRAGMA busy_timeout = 5000;
                     CREATE TABLE IF NOT EXISTS entities (
                         tbl TEXT NOT NULL,
                         pk TEXT NOT NULL,
                         rk TEXT NOT NULL,
                         etag TEXT NOT NULL,
                         props TEXT NOT NULL,
                         PRIMARY KEY (tbl, pk, rk)
                     ) WITHOUT ROWID;",
                    )
                    .map_err(backend)?;
                Ok(connection)
            })
            .await
            .map_err(backend)??;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half-applied statement behind
            // (SQLite rolls it back), so a poisoned lock is safe to take over.
            let mut guard = connection.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(backend)?
    }
}

fn to_json(properties: &Properties) -> Result<String, StorageError> {
    serde_json::to_string(properties).map_err(backend)
}

fn from_json(text: &str) -> Result<Properties, StorageError> {
    serde_json::from_str(text).map_err(backend)
}

/// After a conditional statement touched no row: was the entity missing, or changed?
fn missing_or_changed(
    connection: &Connection,
    table: &str,
    partition: &str,
    row_key: &str,
) -> StorageError {
    let exists = connection
        .query_row(
            "SELECT 1 FROM entities WHERE tbl = ?1 AND pk = ?2 AND rk = ?3",
            params![table, partition, row_key],
            |_| Ok(()),
        )
        .optional();
    match exists {
        Ok(Some(())) => StorageError::PreconditionFailed,
        Ok(None) => StorageError::NotFound,
        Err(error) => backend(error),
    }
}

#[async_trait]
impl EntityStore for SqliteStore {
    async fn insert(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
        properties: &Properties,
    ) -> Result<ETag, StorageError> {
        let (table, partition, row_key) =
            (table.to_owned(), partition.to_owned(), row_key.to_owned());
        let props = to_json(properties)?;
        self.with(move |c| {
            let etag = new_etag();
            let inserted = c
                .execute(
                    "INSERT INTO entities (tbl, pk, rk, etag, props) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO NOTHING",
                    params![table, partition, row_key, etag.0, props],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StorageError::AlreadyExists);
            }
            Ok(etag)
        })
        .await
    }

    async fn get(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
    ) -> Result<Entity, StorageError> {
        let (table, partition, row_key) =
            (table.to_owned(), partition.to_owned(), row_key.to_owned());
        self.with(move |c| {
            let row = c
                .query_row(
                    "SELECT etag, props FROM entities WHERE tbl = ?1 AND pk = ?2 AND rk = ?3",
                    params![table, partition, row_key],
                    |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
                )
                .optional()
                .map_err(backend)?;
            let (etag, props) = row.ok_or(StorageError::NotFound)?;
            Ok(Entity {
                row_key,
                properties: from_json(&props)?,
                etag: ETag(etag),
            })
        })
        .await
    }

    async fn replace(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
        properties: &Properties,
        if_match: IfMatch<'_>,
    ) -> Result<ETag, StorageError> {
        let (table, partition, row_key) =
            (table.to_owned(), partition.to_owned(), row_key.to_owned());
        let props = to_json(properties)?;
        let expected = match if_match {
            IfMatch::Any => None,
            IfMatch::ETag(etag) => Some(etag.0.clone()),
        };
        self.with(move |c| {
            let etag = new_etag();
            // One statement: the ETag comparison and the write cannot be interleaved.
            let updated = c
                .execute(
                    "UPDATE entities SET etag = ?4, props = ?5
                     WHERE tbl = ?1 AND pk = ?2 AND rk = ?3 AND (?6 IS NULL OR etag = ?6)",
                    params![table, partition, row_key, etag.0, props, expected],
                )
                .map_err(backend)?;
            if updated == 0 {
                return Err(missing_or_changed(c, &table, &partition, &row_key));
            }
            Ok(etag)
        })
        .await
    }

    async fn delete(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
        if_match: IfMatch<'_>,
    ) -> Result<(), StorageError> {
        let (table, partition, row_key) =
            (table.to_owned(), partition.to_owned(), row_key.to_owned());
        let expected = match if_match {
            IfMatch::Any => None,
            IfMatch::ETag(etag) => Some(etag.0.clone()),
        };
        self.with(move |c| {
            let deleted = c
                .execute(
                    "DELETE FROM entities
                     WHERE tbl = ?1 AND pk = ?2 AND rk = ?3 AND (?4 IS NULL OR etag = ?4)",
                    params![table, partition, row_key, expected],
                )
                .map_err(backend)?;
            if deleted == 0 {
                return Err(missing_or_changed(c, &table, &partition, &row_key));
            }
            Ok(())
        })
        .await
    }

    async fn query(
        &self,
        table: &str,
        partition: &str,
        query: Query<'_>,
    ) -> Result<Vec<Entity>, StorageError> {
        let (table, partition) = (table.to_owned(), partition.to_owned());
        let after = query.after_row_key.map(str::to_owned);
        // The property name is chosen by our code, never by a request; it still goes in as a
        // bound JSON path, like the value.
        let (path, value) = match query.property_equals {
            Some((name, value)) => (Some(format!("$.\"{name}\"")), Some(value.to_owned())),
            None => (None, None),
        };
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        self.with(move |c| {
            let mut statement = c
                .prepare_cached(
                    "SELECT rk, etag, props FROM entities
                     WHERE tbl = ?1 AND pk = ?2
                       AND (?3 IS NULL OR rk > ?3)
                       AND (?4 IS NULL OR json_extract(props, ?4) = ?5)
                     ORDER BY rk LIMIT ?6",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map(
                    params![table, partition, after, path, value, limit],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                        ))
                    },
                )
                .map_err(backend)?;
            let mut entities = Vec::new();
            for row in rows {
                let (row_key, etag, props) = row.map_err(backend)?;
                entities.push(Entity {
                    row_key,
                    properties: from_json(&props)?,
                    etag: ETag(etag),
                });
            }
            Ok(entities)
        })
        .await
    }

    async fn ensure_table(&self, _table: &str) -> Result<(), StorageError> {
        // All tables share one SQLite table, keyed by name: nothing to create.
        Ok(())
    }

    /// `secure_delete` (set at open) zeroes deleted rows in the pages they leave, but a
    /// b-tree's interior pages may keep copies of deleted keys, and the WAL keeps the frames
    /// written before the delete. So rebuild the database (`VACUUM`), then copy the WAL into it
    /// and truncate the WAL to nothing. Cost: one pass over the database, once per erasure.
    async fn purge(&self) -> Result<(), StorageError> {
        self.with(|connection| {
            connection.execute_batch("VACUUM").map_err(backend)?;
            connection
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                    row.get::<_, i64>(0)
                })
                .map_err(backend)
                .and_then(|busy| {
                    if busy == 0 {
                        Ok(())
                    } else {
                        Err(StorageError::Unavailable(
                            "the database was busy; the WAL was not truncated".into(),
                        ))
                    }
                })
        })
        .await
    }
}
