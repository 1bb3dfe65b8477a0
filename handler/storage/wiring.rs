//! The wiring: which backends config picks, opening them, creating the tables and container
//! that are missing, and the storage-backed services over them.

use std::{path::PathBuf, sync::Arc, time::Duration};

use tokio::sync::OnceCell;

use super::{
    azure, blobs, directory, embedded, files, records, tables, users, BlobStore, EntityStore,
    StorageError,
};

/// Where the data lives, from config.
#[derive(Debug, Clone)]
pub enum Backend {
    /// SQLite (and later a directory of files) under this directory.
    Embedded { data_dir: PathBuf },
    /// Azure Storage (or Azurite).
    Azure(azure::Connection),
}

impl Backend {
    /// Where the data is, for the start-up line; never a key.
    pub fn describe(&self) -> String {
        match self {
            Self::Embedded { data_dir } => {
                format!("embedded (SQLite and files) in {}", data_dir.display())
            }
            Self::Azure(connection) => connection.describe(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub backend: Backend,
    pub records_table: String,
    pub users_table: String,
    pub sessions_table: String,
    pub uploads_container: String,
    /// Largest file an upload may store.
    pub upload_max_bytes: u64,
    /// Connect and total timeout for each storage call.
    pub timeout: Duration,
}

/// The opened stores and the domain services over them.
#[derive(Debug, Clone)]
pub struct Storage {
    pub records: records::Records,
    pub files: files::Files,
    pub users: users::Users,
    pub sessions: users::Sessions,
}

impl Storage {
    /// Connects and creates the tables that are missing.
    pub async fn open(config: &StorageConfig) -> Result<Self, StorageError> {
        let (store, blobs): (Arc<dyn EntityStore>, Arc<dyn BlobStore>) = match &config.backend {
            Backend::Embedded { data_dir } => (
                Arc::new(embedded::SqliteStore::open(data_dir.join("tables.sqlite3")).await?),
                Arc::new(directory::DirectoryStore::new(data_dir.join("blobs"))),
            ),
            Backend::Azure(connection) => (
                Arc::new(tables::AzureTableStore::new(connection, config.timeout)?),
                Arc::new(blobs::AzureBlobStore::new(connection, config.timeout)?),
            ),
        };
        for table in [
            &config.records_table,
            &config.users_table,
            &config.sessions_table,
        ] {
            store.ensure_table(table).await?;
        }
        blobs.ensure_container(&config.uploads_container).await?;
        Ok(Self {
            records: records::Records::new(store.clone(), config.records_table.clone()),
            users: users::Users::new(store.clone(), config.users_table.clone()),
            sessions: users::Sessions::new(store, config.sessions_table.clone()),
            files: files::Files::new(
                blobs,
                config.uploads_container.clone(),
                config.upload_max_bytes,
            ),
        })
    }
}

/// Storage opened on first use, so the handler answers the host's readiness probe before any
/// storage call. A failed open is retried by the next request that needs storage.
#[derive(Debug, Clone)]
pub struct LazyStorage {
    config: Arc<StorageConfig>,
    cell: Arc<OnceCell<Arc<Storage>>>,
}

impl LazyStorage {
    pub fn new(config: StorageConfig) -> Self {
        Self {
            config: Arc::new(config),
            cell: Arc::new(OnceCell::new()),
        }
    }

    pub async fn get(&self) -> Result<Arc<Storage>, StorageError> {
        self.cell
            .get_or_try_init(|| async { Storage::open(&self.config).await.map(Arc::new) })
            .await
            .cloned()
    }

    pub fn config(&self) -> &StorageConfig {
        &self.config
    }
}
