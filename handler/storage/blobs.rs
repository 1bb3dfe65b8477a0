//! The Azure backend of [`BlobStore`]: block blobs in Azure Blob storage (or Azurite) through
//! `azure_storage_blobs` 0.21. Uploads stage blocks and commit the block list at the end, so
//! nothing is visible until the last block is in.

use std::{num::NonZeroU32, ops::Range, sync::Arc, time::Duration};

use async_trait::async_trait;
use azure_core::{
    headers,
    request_options::{IfMatchCondition, Metadata},
    Context, Policy, PolicyResult, Request,
};
use azure_storage_blobs::{
    blob::{BlobBlockType, BlockList},
    container::operations::BlobItem,
    prelude::*,
};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::{
    azure::{Connection, Service},
    tables::storage_error,
    BlobInfo, BlobPage, BlobStore, BlobUpload, ByteStream, ETag, StorageError, SHA256_METADATA,
};

/// How much one download request asks for; the stream issues ranged requests of this size.
const READ_CHUNK: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct AzureBlobStore {
    service: BlobServiceClient,
}

impl AzureBlobStore {
    pub fn new(connection: &Connection, timeout: Duration) -> Result<Self, StorageError> {
        let http = super::azure::http_client(timeout)?;
        let (location, credentials) = connection.service(Service::Blob, &http)?;
        let options = azure_core::ClientOptions::new(super::azure::transport(&http))
            .retry(super::azure::retry(timeout))
            .per_call_policies(vec![Arc::new(NoRangeCrc64) as Arc<dyn Policy>]);
        let service = ClientBuilder::with_location(location, credentials)
            .client_options(options)
            .blob_service_client();
        Ok(Self { service })
    }

    fn blob(&self, container: &str, name: &str) -> BlobClient {
        self.service.container_client(container).blob_client(name)
    }
}

/// The crate asks for a CRC64 of every ranged read under 4 MiB
/// (`x-ms-range-get-content-crc64`), which stock Azurite refuses outright and nothing here
/// checks: the SHA-256 kept with each file already covers its content. Drop the header.
#[derive(Debug)]
struct NoRangeCrc64;

#[async_trait]
impl Policy for NoRangeCrc64 {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let asks = request
            .headers()
            .iter()
            .any(|(name, _)| *name == headers::RANGE_GET_CONTENT_CRC64);
        if asks {
            // `Headers` cannot remove one: rebuild the request without it.
            let mut without = Request::new(request.url().clone(), *request.method());
            for (name, value) in request.headers().iter() {
                if *name != headers::RANGE_GET_CONTENT_CRC64 {
                    without.insert_header(name.clone(), value.clone());
                }
            }
            without.set_body(request.body().clone());
            *request = without;
        }
        match next.split_first() {
            Some((policy, rest)) => policy.send(ctx, request, rest).await,
            None => Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Other,
                || "the storage pipeline has no transport",
            )),
        }
    }
}

async fn create_container(client: &ContainerClient) -> Result<(), StorageError> {
    match client.create().await {
        Ok(_) => Ok(()),
        Err(error) => match storage_error(error) {
            StorageError::AlreadyExists => Ok(()),
            other => Err(other),
        },
    }
}

/// A container that is gone holds nothing: create it again, and answer as an empty one would.
async fn missing_means_absent<T>(
    store: &AzureBlobStore,
    container: &str,
    result: Result<T, StorageError>,
    absent: impl FnOnce() -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    match result {
        Err(StorageError::Missing(what)) => {
            tracing::warn!(container, %what, "the uploads container was gone; creating it again");
            store.ensure_container(container).await?;
            absent()
        }
        other => other,
    }
}

fn info(blob: &azure_storage_blobs::blob::Blob) -> BlobInfo {
    BlobInfo {
        name: blob.name.clone(),
        size: blob.properties.content_length,
        content_type: blob.properties.content_type.clone(),
        etag: ETag(blob.properties.etag.to_string()),
        last_modified: blob.properties.last_modified,
        sha256: blob
            .metadata
            .as_ref()
            .and_then(|metadata| metadata.get(SHA256_METADATA).cloned()),
    }
}

struct AzureUpload {
    client: BlobClient,
    /// Unique per upload, so two uploads of one name never mix their uncommitted blocks.
    upload_id: String,
    blocks: Vec<BlobBlockType>,
}

#[async_trait]
impl BlobUpload for AzureUpload {
    async fn put_block(&mut self, data: Bytes) -> Result<(), StorageError> {
        // Every id in a block list must have the same length.
        let id = Bytes::from(format!("{}-{:08}", self.upload_id, self.blocks.len()));
        match self
            .client
            .put_block(id.clone(), data.clone())
            .await
            .map_err(storage_error)
        {
            Ok(_) => {}
            // The container was deleted under us (an Azurite restarted in memory): create it
            // again, which is safe before the first block, and stage that block once more.
            Err(StorageError::Missing(what)) if self.blocks.is_empty() => {
                tracing::warn!(%what, "the uploads container was gone; creating it again");
                create_container(self.client.container_client()).await?;
                self.client
                    .put_block(id.clone(), data)
                    .await
                    .map_err(storage_error)?;
            }
            Err(error) => return Err(error),
        }
        self.blocks.push(BlobBlockType::new_uncommitted(id));
        Ok(())
    }

    async fn commit(
        self: Box<Self>,
        content_type: &str,
        sha256: &str,
    ) -> Result<BlobInfo, StorageError> {
        let mut metadata = Metadata::new();
        metadata.insert(SHA256_METADATA, sha256.to_owned());
        let size_known = self.blocks.len();
        self.client
            .put_block_list(BlockList {
                blocks: self.blocks,
            })
            .content_type(content_type.to_owned())
            .metadata(metadata)
            .await
            .map_err(storage_error)?;
        // The commit response lacks the size and type; one properties call gives all of it.
        let properties = self.client.get_properties().await.map_err(storage_error)?;
        let info = info(&properties.blob);
        tracing::debug!(
            blocks = size_known,
            size = info.size,
            "committed block blob"
        );
        Ok(info)
    }
}

#[async_trait]
impl BlobStore for AzureBlobStore {
    async fn ensure_container(&self, container: &str) -> Result<(), StorageError> {
        create_container(&self.service.container_client(container)).await
    }

    async fn start_upload(
        &self,
        container: &str,
        name: &str,
    ) -> Result<Box<dyn BlobUpload>, StorageError> {
        Ok(Box::new(AzureUpload {
            client: self.blob(container, name),
            upload_id: uuid::Uuid::new_v4().simple().to_string(),
            blocks: Vec::new(),
        }))
    }

    async fn properties(&self, container: &str, name: &str) -> Result<BlobInfo, StorageError> {
        let result = self
            .blob(container, name)
            .get_properties()
            .await
            .map_err(storage_error)
            .map(|response| info(&response.blob));
        missing_means_absent(self, container, result, || Err(StorageError::NotFound)).await
    }

    async fn read(
        &self,
        container: &str,
        name: &str,
        range: Range<u64>,
        etag: &ETag,
    ) -> Result<ByteStream, StorageError> {
        // Never ask for an empty range: the service answers 416 (the crate's 0-byte bug).
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        let pages = self
            .blob(container, name)
            .get()
            .range(range)
            .chunk_size(READ_CHUNK)
            .if_match(IfMatchCondition::Match(etag.0.clone()))
            .into_stream();
        let bytes = pages
            .map_err(storage_error)
            .map_ok(|page| page.data.map_err(storage_error))
            .try_flatten();
        Ok(bytes.boxed())
    }

    async fn delete(&self, container: &str, name: &str) -> Result<(), StorageError> {
        let result = self
            .blob(container, name)
            .delete()
            .await
            .map_err(storage_error)
            .map(|_| ());
        missing_means_absent(self, container, result, || Err(StorageError::NotFound)).await
    }

    async fn list(
        &self,
        container: &str,
        prefix: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<BlobPage, StorageError> {
        let max = NonZeroU32::new(u32::try_from(limit.clamp(1, 5000)).unwrap_or(5000))
            .unwrap_or(NonZeroU32::MIN);
        let mut builder = self
            .service
            .container_client(container)
            .list_blobs()
            .prefix(prefix.to_owned())
            .include_metadata(true)
            .max_results(max);
        if let Some(marker) = marker {
            builder = builder.marker(marker.to_owned());
        }
        let mut pages = builder.into_stream();
        let Some(page) = pages.next().await else {
            return Ok(BlobPage::default());
        };
        let page =
            match page.map_err(storage_error) {
                Ok(page) => page,
                Err(error) => {
                    return missing_means_absent(self, container, Err(error), || {
                        Ok(BlobPage::default())
                    })
                    .await
                }
            };
        let blobs = page
            .blobs
            .items
            .iter()
            .filter_map(|item| match item {
                BlobItem::Blob(blob) => Some(info(blob)),
                BlobItem::BlobPrefix(_) => None,
            })
            .collect();
        Ok(BlobPage {
            blobs,
            next: page.next_marker.map(|marker| marker.as_str().to_owned()),
        })
    }
}
