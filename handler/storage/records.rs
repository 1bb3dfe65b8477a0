//! The `fruit(name, price)` records: parsed newtypes for everything a request supplies, and the
//! [`Records`] service written once over any [`EntityStore`].

use std::{fmt, sync::Arc};

use serde_json::Value;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{ETag, Entity, EntityStore, IfMatch, Properties, Query, StorageError};

pub const MAX_NAME_CHARS: usize = 50;
pub const MAX_PRICE: i64 = 1_000_000_000;
pub const MAX_LIMIT: usize = 1000;
pub const DEFAULT_LIMIT: usize = 100;
/// PATCH and PUT without If-Match are read-modify-write; retry this often if another writer
/// gets in between, rather than lose their update. Each lost race means another writer
/// succeeded, so up to this many concurrent writers of one record always get through.
const WRITE_ATTEMPTS: usize = 10;

/// Why a value from a request was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// A server-generated record id: a UUIDv7, so row-key order is creation order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordId(String);

impl RecordId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().hyphenated().to_string())
    }

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        uuid::Uuid::try_parse(text)
            .map(|id| Self(id.hyphenated().to_string()))
            .map_err(|_| Invalid(format!("{text:?} is not a record id (a UUID)")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 1 to 50 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordName(String);

impl RecordName {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let trimmed = text.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS {
            return Err(Invalid(format!(
                "name must be 1 to {MAX_NAME_CHARS} characters (got {chars})"
            )));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Invalid("name may not contain control characters".into()));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whole pence, 0 to 1,000,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price(i64);

impl Price {
    pub fn parse(value: i64) -> Result<Self, Invalid> {
        if (0..=MAX_PRICE).contains(&value) {
            Ok(Self(value))
        } else {
            Err(Invalid(format!(
                "price must be an integer from 0 to {MAX_PRICE}"
            )))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// Who records and files belong to: the Table partition and the blob name prefix. It is the
/// signed-in user's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(String);

impl Owner {
    /// The owner a signed-in user is: a user id is a UUID, always a valid key.
    pub fn user(id: &super::users::UserId) -> Self {
        Self(id.as_str().to_owned())
    }

    pub fn new(key: &str) -> Result<Self, Invalid> {
        super::validate_key(key).map_err(|why| Invalid(why.into()))?;
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: RecordId,
    pub name: String,
    pub price: i64,
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

pub(crate) fn now() -> String {
    // Formatting the current UTC time as RFC 3339 cannot fail for years 0..=9999.
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn properties(name: &str, price: i64, created_at: &str, updated_at: &str) -> Properties {
    let mut properties = Properties::with_capacity(4);
    properties.insert("name".into(), Value::from(name));
    properties.insert("price".into(), Value::from(price));
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
    Ok(Record {
        id: RecordId::parse(&entity.row_key).map_err(|e| StorageError::Backend(e.0))?,
        name: text("name")?,
        price: entity
            .properties
            .get("price")
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                StorageError::Backend(format!("record {} has no price", entity.row_key))
            })?,
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
        let properties = properties(fields.name.as_str(), fields.price.get(), &at, &at);
        let etag = self
            .store
            .insert(&self.table, owner.as_str(), id.as_str(), &properties)
            .await?;
        Ok(Record {
            id,
            name: fields.name.0,
            price: fields.price.get(),
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
                patch
                    .name
                    .clone()
                    .unwrap_or_else(|| RecordName(current.name.clone())),
                patch.price.unwrap_or(Price(current.price)),
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
            let properties =
                properties(name.as_str(), price.get(), &current.created_at, &updated_at);
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
                        name: name.0,
                        price: price.get(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(RecordName::parse("  apple ").unwrap().as_str(), "apple");
        assert!(RecordName::parse("   ").is_err());
        assert!(RecordName::parse(&"é".repeat(50)).is_ok());
        assert!(RecordName::parse(&"a".repeat(51)).is_err());
        assert!(RecordName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn prices_are_bounded() {
        assert!(Price::parse(0).is_ok());
        assert!(Price::parse(MAX_PRICE).is_ok());
        assert!(Price::parse(-1).is_err());
        assert!(Price::parse(MAX_PRICE + 1).is_err());
    }

    #[test]
    fn ids_are_uuids_in_canonical_form() {
        let id = RecordId::generate();
        assert_eq!(RecordId::parse(id.as_str()).unwrap(), id);
        assert!(RecordId::parse("1' or '1'='1").is_err());
        assert!(RecordId::parse("../etc").is_err());
    }

    #[test]
    fn generated_ids_sort_in_creation_order() {
        let first = RecordId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = RecordId::generate();
        assert!(first < second);
    }
}
