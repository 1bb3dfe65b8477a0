//! The Azure backend of [`EntityStore`]: Azure Table storage (or Azurite) through
//! `azure_data_tables` 0.21.

use std::time::Duration;

use async_trait::async_trait;
use azure_core::{error::ErrorKind, Etag, StatusCode};
use azure_data_tables::{clients::TableServiceClientBuilder, prelude::*};
use futures::StreamExt;
use serde_json::{Map, Value};

use super::{
    azure::Connection, ETag, Entity, EntityStore, IfMatch, Properties, Query, StorageError,
};

/// The service returns at most this many entities per page.
const MAX_PAGE: usize = 1000;

#[derive(Debug, Clone)]
pub struct AzureTableStore {
    service: TableServiceClient,
}

impl AzureTableStore {
    pub fn new(connection: &Connection, timeout: Duration) -> Result<Self, StorageError> {
        let http = super::azure::http_client(timeout)?;
        let (location, credentials) = connection.service(super::azure::Service::Table, &http)?;
        let service = TableServiceClientBuilder::with_location(location, credentials)
            .transport(super::azure::transport(&http))
            .retry(super::azure::retry(timeout))
            .build();
        Ok(Self { service })
    }

    fn table(&self, table: &str) -> TableClient {
        self.service.table_client(table)
    }
}

/// Maps the SDK's error to ours. Messages may contain request URLs, so SAS signatures are cut.
pub(crate) fn storage_error(error: azure_core::Error) -> StorageError {
    match error.kind() {
        ErrorKind::HttpResponse { status, error_code } => match *status {
            // The table or container itself, not the entity or blob asked for.
            StatusCode::NotFound
                if matches!(
                    error_code.as_deref(),
                    Some("TableNotFound" | "ContainerNotFound")
                ) =>
            {
                StorageError::Missing(error_code.clone().unwrap_or_default())
            }
            StatusCode::NotFound => StorageError::NotFound,
            StatusCode::Conflict => StorageError::AlreadyExists,
            StatusCode::PreconditionFailed => StorageError::PreconditionFailed,
            status => {
                let detail = format!("HTTP {status} {}", error_code.as_deref().unwrap_or(""));
                if matches!(
                    status,
                    StatusCode::TooManyRequests
                        | StatusCode::RequestTimeout
                        | StatusCode::ServiceUnavailable
                        | StatusCode::InternalServerError
                        | StatusCode::BadGateway
                        | StatusCode::GatewayTimeout
                        | StatusCode::Forbidden
                ) {
                    StorageError::Unavailable(detail)
                } else {
                    StorageError::Backend(detail)
                }
            }
        },
        ErrorKind::Io | ErrorKind::Credential => {
            StorageError::Unavailable(without_signature(&error.to_string()))
        }
        _ => StorageError::Backend(without_signature(&error.to_string())),
    }
}

fn without_signature(message: &str) -> String {
    match message.find("sig=") {
        Some(at) => format!("{}sig=REDACTED", &message[..at]),
        None => message.to_owned(),
    }
}

/// An OData string literal: single quotes doubled, so a value can never end the literal.
pub fn odata_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The JSON the service takes: Int64 values need an explicit type, or they become doubles.
fn to_entity(partition: &str, row_key: &str, properties: &Properties) -> Map<String, Value> {
    let mut entity = Map::with_capacity(properties.len() + 2);
    entity.insert("PartitionKey".into(), Value::String(partition.to_owned()));
    entity.insert("RowKey".into(), Value::String(row_key.to_owned()));
    for (name, value) in properties {
        match value.as_i64() {
            Some(n) if i32::try_from(n).is_err() => {
                entity.insert(
                    format!("{name}@odata.type"),
                    Value::String("Edm.Int64".into()),
                );
                entity.insert(name.clone(), Value::String(n.to_string()));
            }
            _ => {
                entity.insert(name.clone(), value.clone());
            }
        }
    }
    entity
}

/// Back from the service's JSON: keys, timestamps and OData annotations removed, Int64
/// strings turned back into numbers. Returns the row key, properties and ETag.
fn from_entity(
    mut entity: Map<String, Value>,
) -> Result<(String, Properties, Option<String>), StorageError> {
    let row_key = match entity.remove("RowKey") {
        Some(Value::String(row_key)) => row_key,
        _ => return Err(StorageError::Backend("entity without RowKey".into())),
    };
    let etag = match entity.remove("odata.etag") {
        Some(Value::String(etag)) => Some(etag),
        _ => None,
    };
    let int64: Vec<String> = entity
        .iter()
        .filter(|(key, value)| key.ends_with("@odata.type") && value.as_str() == Some("Edm.Int64"))
        .map(|(key, _)| key.trim_end_matches("@odata.type").to_owned())
        .collect();
    entity.retain(|key, _| {
        !(key.starts_with("odata.")
            || key.contains("@odata.")
            || key == "PartitionKey"
            || key == "Timestamp")
    });
    for name in int64 {
        if let Some(Value::String(text)) = entity.get(&name) {
            let number: i64 = text
                .parse()
                .map_err(|_| StorageError::Backend(format!("{name} is not an Int64")))?;
            entity.insert(name, Value::from(number));
        }
    }
    Ok((row_key, entity, etag))
}

fn condition(if_match: IfMatch<'_>) -> IfMatchCondition {
    match if_match {
        IfMatch::Any => IfMatchCondition::Any,
        IfMatch::ETag(etag) => IfMatchCondition::Etag(Etag::from(etag.0.clone())),
    }
}

/// Each operation once; the [`EntityStore`] methods below wrap them so that a table that has
/// disappeared under a running handler (an Azurite restarted in memory, a table deleted by
/// hand) is created again and the operation retried, instead of answering 404.
impl AzureTableStore {
    async fn insert_once(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
        properties: &Properties,
    ) -> Result<ETag, StorageError> {
        let response = self
            .table(table)
            .insert::<_, Value>(to_entity(partition, row_key, properties))
            .map_err(storage_error)?
            .await
            .map_err(storage_error)?;
        Ok(ETag(response.etag.to_string()))
    }

    async fn get_once(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
    ) -> Result<Entity, StorageError> {
        let response = self
            .table(table)
            .partition_key_client(partition)
            .entity_client(row_key)
            .get::<Map<String, Value>>()
            .await
            .map_err(storage_error)?;
        let (row_key, properties, _) = from_entity(response.entity)?;
        Ok(Entity {
            row_key,
            properties,
            etag: ETag(response.etag.to_string()),
        })
    }

    async fn replace_once(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
        properties: &Properties,
        if_match: IfMatch<'_>,
    ) -> Result<ETag, StorageError> {
        let response = self
            .table(table)
            .partition_key_client(partition)
            .entity_client(row_key)
            .update(
                to_entity(partition, row_key, properties),
                condition(if_match),
            )
            .map_err(storage_error)?
            .await
            .map_err(storage_error)?;
        Ok(ETag(response.etag.to_string()))
    }

    async fn delete_once(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
        if_match: IfMatch<'_>,
    ) -> Result<(), StorageError> {
        self.table(table)
            .partition_key_client(partition)
            .entity_client(row_key)
            .delete()
            .if_match(condition(if_match))
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn query_once(
        &self,
        table: &str,
        partition: &str,
        query: Query<'_>,
    ) -> Result<Vec<Entity>, StorageError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut filter = format!("PartitionKey eq {}", odata_string(partition));
        if let Some(after) = query.after_row_key {
            filter.push_str(&format!(" and RowKey gt {}", odata_string(after)));
        }
        if let Some((name, value)) = query.property_equals {
            filter.push_str(&format!(" and {name} eq {}", odata_string(value)));
        }
        let top = u32::try_from(query.limit.min(MAX_PAGE)).unwrap_or(1000);
        let mut pages = self
            .table(table)
            .query()
            .filter(Filter::new(filter))
            .top(Top::new(top))
            .into_stream::<Map<String, Value>>();
        let mut entities = Vec::with_capacity(query.limit.min(MAX_PAGE));
        // The service may return short pages with a continuation; keep reading until full.
        while let Some(page) = pages.next().await {
            for entity in page.map_err(storage_error)?.entities {
                let (row_key, properties, etag) = from_entity(entity)?;
                let etag =
                    etag.ok_or_else(|| StorageError::Backend("entity without ETag".into()))?;
                entities.push(Entity {
                    row_key,
                    properties,
                    etag: ETag(etag),
                });
                if entities.len() == query.limit {
                    return Ok(entities);
                }
            }
        }
        Ok(entities)
    }

    async fn recreating<T, F, Fut>(&self, table: &str, operation: F) -> Result<T, StorageError>
    where
        F: Fn() -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, StorageError>> + Send,
    {
        match operation().await {
            Err(StorageError::Missing(what)) => {
                tracing::warn!(table, %what, "a table was gone; creating it again");
                self.ensure_table(table).await?;
                operation().await
            }
            other => other,
        }
    }
}

#[async_trait]
impl EntityStore for AzureTableStore {
    async fn insert(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
        properties: &Properties,
    ) -> Result<ETag, StorageError> {
        self.recreating(table, || {
            self.insert_once(table, partition, row_key, properties)
        })
        .await
    }

    async fn get(
        &self,
        table: &str,
        partition: &str,
        row_key: &str,
    ) -> Result<Entity, StorageError> {
        self.recreating(table, || self.get_once(table, partition, row_key))
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
        self.recreating(table, || {
            self.replace_once(table, partition, row_key, properties, if_match)
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
        self.recreating(table, || {
            self.delete_once(table, partition, row_key, if_match)
        })
        .await
    }

    async fn query(
        &self,
        table: &str,
        partition: &str,
        query: Query<'_>,
    ) -> Result<Vec<Entity>, StorageError> {
        self.recreating(table, || self.query_once(table, partition, query.clone()))
            .await
    }

    async fn ensure_table(&self, table: &str) -> Result<(), StorageError> {
        match self.table(table).create().await {
            Ok(_) => Ok(()),
            Err(error) => match storage_error(error) {
                StorageError::AlreadyExists => Ok(()),
                other => Err(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_cannot_escape_an_odata_literal() {
        assert_eq!(odata_string("x' or 'a' eq 'a"), "'x'' or ''a'' eq ''a'");
    }

    #[test]
    fn int64_round_trips_through_the_entity_json() {
        let mut properties = Properties::new();
        properties.insert("small".into(), Value::from(5));
        properties.insert("big".into(), Value::from(1_i64 << 40));
        let mut entity = to_entity("p", "r", &properties);
        assert_eq!(entity["big@odata.type"], "Edm.Int64");
        entity.insert("odata.etag".into(), Value::from("W/\"x\""));
        entity.insert("Timestamp".into(), Value::from("2026-01-01T00:00:00Z"));
        let (row_key, back, etag) = from_entity(entity).unwrap();
        assert_eq!(row_key, "r");
        assert_eq!(back, properties);
        assert_eq!(etag.as_deref(), Some("W/\"x\""));
    }

    #[test]
    fn signatures_never_reach_messages() {
        assert!(!without_signature("GET https://a/t?sv=1&sig=SECRET failed").contains("SECRET"));
    }
}
