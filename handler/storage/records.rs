//! The `fruit(name, price)` records: the [`Records`] service, written once over any
//! [`EntityStore`]. The values themselves (ids, names, prices) are parsed in [`crate::domain`].

use std::sync::Arc;

use serde_json::Value;

use super::{ETag, Entity, EntityStore, IfMatch, Properties, Query, StorageError};
use crate::domain::{now_rfc3339 as now, Invalid, Owner, Price, RecordId, RecordName};

pub const MAX_LIMIT: usize = 1000;
pub const DEFAULT_LIMIT: usize = 100;
/// PATCH and PUT without If-Match are read-modify-write; retry this often if another writer
/// gets in between, rather than lose their update. Each lost race means another writer
/// succeeded, so up to this many concurrent writers of one record always get through.
const WRITE_ATTEMPTS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: RecordId,
    pub name: RecordName,
    pub price: Price,
    pub created_at: String,
    pub updated_at: String,
    pub etag: ETag,
}

/// The fields a client sets.
#[derive(Debug, Clone)]
pub struct Fields {
    pub name: RecordName,
    pub price: Price,
}

/// A PATCH: the fields to change.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    pub name: Option<RecordName>,
    pub price: Option<Price>,
}

/// A page of records and where the next one starts.
#[derive(Debug, Clone)]
pub struct Page {
    pub records: Vec<Record>,
    pub next: Option<RecordId>,
}

#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub name: Option<RecordName>,
    pub limit: Option<usize>,
    pub after: Option<RecordId>,
}

#[derive(Debug, Clone)]
pub struct Records {
    store: Arc<dyn EntityStore>,
    table: String,
}

fn properties(name: &RecordName, price: Price, created_at: &str, updated_at: &str) -> Properties {
    let mut properties = Properties::with_capacity(4);
    properties.insert("name".into(), Value::from(name.as_str()));
    properties.insert("price".into(), Value::from(price.get()));
    properties.insert("createdAt".into(), Value::from(created_at));
    properties.insert("updatedAt".into(), Value::from(updated_at));
    properties
}

fn record(entity: Entity) -> Result<Record, StorageError> {
    let text = |name: &str| {
        entity
            .properties
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                StorageError::Backend(format!("record {} has no {name}", entity.row_key))
            })
    };
    let unreadable = |field: &str, why: Invalid| {
        StorageError::Backend(format!(
            "record {} has an unreadable {field}: {why}",
            entity.row_key
        ))
    };
    Ok(Record {
        id: RecordId::parse(&entity.row_key).map_err(|e| StorageError::Backend(e.0))?,
        name: RecordName::parse(&text("name")?).map_err(|why| unreadable("name", why))?,
        price: entity
            .properties
            .get("price")
            .and_then(Value::as_i64)
            .ok_or_else(|| StorageError::Backend(format!("record {} has no price", entity.row_key)))
            .and_then(|price| Price::parse(price).map_err(|why| unreadable("price", why)))?,
        created_at: text("createdAt")?,
        updated_at: text("updatedAt")?,
        etag: entity.etag,
    })
}

impl Records {
    pub fn new(store: Arc<dyn EntityStore>, table: String) -> Self {
        Self { store, table }
    }

    pub async fn create(&self, owner: &Owner, fields: Fields) -> Result<Record, StorageError> {
        let id = RecordId::generate();
        let at = now();
        let properties = properties(&fields.name, fields.price, &at, &at);
        let etag = self
            .store
            .insert(&self.table, owner.as_str(), id.as_str(), &properties)
            .await?;
        Ok(Record {
            id,
            name: fields.name,
            price: fields.price,
            created_at: at.clone(),
            updated_at: at,
            etag,
        })
    }

    pub async fn get(&self, owner: &Owner, id: &RecordId) -> Result<Record, StorageError> {
        record(
            self.store
                .get(&self.table, owner.as_str(), id.as_str())
                .await?,
        )
    }

    pub async fn list(&self, owner: &Owner, options: ListOptions) -> Result<Page, StorageError> {
        let limit = options.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        // One more than asked tells whether another page exists without an extra call.
        let entities = self
            .store
            .query(
                &self.table,
                owner.as_str(),
                Query {
                    property_equals: options.name.as_ref().map(|name| ("name", name.as_str())),
                    after_row_key: options.after.as_ref().map(RecordId::as_str),
                    limit: limit + 1,
                },
            )
            .await?;
        let mut records = entities
            .into_iter()
            .map(record)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if records.len() > limit {
            records.truncate(limit);
            records.last().map(|last| last.id.clone())
        } else {
            None
        };
        Ok(Page { records, next })
    }

    /// PUT: all fields replaced. With `if_match`, only if the record is still at that version.
    pub async fn replace(
        &self,
        owner: &Owner,
        id: &RecordId,
        fields: Fields,
        if_match: Option<&ETag>,
    ) -> Result<Record, StorageError> {
        self.write(owner, id, if_match, |_| (fields.name.clone(), fields.price))
            .await
    }

    /// PATCH: the given fields changed, the rest kept.
    pub async fn patch(
        &self,
        owner: &Owner,
        id: &RecordId,
        patch: Patch,
        if_match: Option<&ETag>,
    ) -> Result<Record, StorageError> {
        self.write(owner, id, if_match, |current| {
            (
                patch.name.clone().unwrap_or_else(|| current.name.clone()),
                patch.price.unwrap_or(current.price),
            )
        })
        .await
    }

    /// Read, change, write back conditionally on the version read, so no concurrent update is
    /// lost. The client's If-Match, when given, must be the version read.
    async fn write(
        &self,
        owner: &Owner,
        id: &RecordId,
        if_match: Option<&ETag>,
        change: impl Fn(&Record) -> (RecordName, Price),
    ) -> Result<Record, StorageError> {
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.get(owner, id).await?;
            if if_match.is_some_and(|expected| *expected != current.etag) {
                return Err(StorageError::PreconditionFailed);
            }
            let (name, price) = change(&current);
            let updated_at = now();
            let properties = properties(&name, price, &current.created_at, &updated_at);
            match self
                .store
                .replace(
                    &self.table,
                    owner.as_str(),
                    id.as_str(),
                    &properties,
                    IfMatch::ETag(&current.etag),
                )
                .await
            {
                Ok(etag) => {
                    return Ok(Record {
                        id: id.clone(),
                        name,
                        price,
                        created_at: current.created_at,
                        updated_at,
                        etag,
                    })
                }
                // The client pinned a version and lost the race: that is their 412.
                Err(StorageError::PreconditionFailed) if if_match.is_some() => {
                    return Err(StorageError::PreconditionFailed)
                }
                Err(StorageError::PreconditionFailed) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(StorageError::Unavailable(
            "the record kept changing; try again".into(),
        ))
    }

    /// Every record of `owner`, in creation order (what the owner can export).
    pub async fn all(&self, owner: &Owner) -> Result<Vec<Record>, StorageError> {
        let mut records = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .list(
                    owner,
                    ListOptions {
                        name: None,
                        limit: Some(MAX_LIMIT),
                        after,
                    },
                )
                .await?;
            records.extend(page.records);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(records),
            }
        }
    }

    /// Deletes every record of `owner`; returns how many there were.
    pub async fn delete_all(&self, owner: &Owner) -> Result<usize, StorageError> {
        let records = self.all(owner).await?;
        for record in &records {
            match self.delete(owner, &record.id, None).await {
                Ok(()) | Err(StorageError::NotFound) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(records.len())
    }

    pub async fn delete(
        &self,
        owner: &Owner,
        id: &RecordId,
        if_match: Option<&ETag>,
    ) -> Result<(), StorageError> {
        let condition = if_match.map_or(IfMatch::Any, IfMatch::ETag);
        self.store
            .delete(&self.table, owner.as_str(), id.as_str(), condition)
            .await
    }
}
