//! Accounts and sessions over any [`EntityStore`].
//!
//! Users table:
//! - `PK = <user id>, RK = "profile"`: the account (username, password hash, lockout state);
//! - `PK = "username", RK = <username>`: the unique-name claim, inserted first, so two
//!   registrations of one name are decided by the store's atomic insert, not a read;
//! - `PK = "external", RK = <hash of provider + provider's user id>`: Easy Auth identities.
//!
//! Sessions table: `PK = <user id>, RK = <SHA-256 of the token secret>`; the secret itself is
//! never stored, and a user's sessions are one partition, so revoking them all is one query.

use std::sync::Arc;

use serde_json::Value;

use super::{ETag, Entity, EntityStore, IfMatch, Properties, Query, StorageError};
use crate::domain::{now_rfc3339, UserId, Username};

const PROFILE: &str = "profile";
const USERNAME_PARTITION: &str = "username";
const EXTERNAL_PARTITION: &str = "external";

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    /// PHC string; `None` for accounts that sign in only through Easy Auth.
    pub password_hash: Option<String>,
    pub created_at: String,
    /// Failed logins in the current window, when it started, and the lock, in Unix seconds.
    pub failed_logins: u32,
    pub failed_since: Option<i64>,
    pub locked_until: Option<i64>,
    /// Key of the Easy Auth identity this account was created for.
    pub external_key: Option<String>,
    pub etag: ETag,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("that username is taken")]
    UsernameTaken,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

fn profile_properties(user: &User) -> Properties {
    let mut properties = Properties::new();
    properties.insert("username".into(), text(user.username.as_str()));
    if let Some(hash) = &user.password_hash {
        properties.insert("passwordHash".into(), text(hash));
    }
    properties.insert("createdAt".into(), text(&user.created_at));
    properties.insert("failedLogins".into(), Value::from(user.failed_logins));
    if let Some(at) = user.failed_since {
        properties.insert("failedSince".into(), Value::from(at));
    }
    if let Some(at) = user.locked_until {
        properties.insert("lockedUntil".into(), Value::from(at));
    }
    if let Some(key) = &user.external_key {
        properties.insert("externalKey".into(), text(key));
    }
    properties
}

fn user_from(id: UserId, entity: Entity) -> Result<User, StorageError> {
    let p = &entity.properties;
    let string = |name: &str| p.get(name).and_then(Value::as_str).map(str::to_owned);
    let number = |name: &str| p.get(name).and_then(Value::as_i64);
    let username = string("username")
        .and_then(|name| Username::parse(&name).ok())
        .ok_or_else(|| StorageError::Backend(format!("user {id} has no valid username")))?;
    Ok(User {
        username,
        password_hash: string("passwordHash"),
        created_at: string("createdAt").unwrap_or_default(),
        failed_logins: number("failedLogins")
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        failed_since: number("failedSince"),
        locked_until: number("lockedUntil"),
        external_key: string("externalKey"),
        etag: entity.etag,
        id,
    })
}

fn pointer(user_id: &UserId) -> Properties {
    let mut properties = Properties::new();
    properties.insert("userId".into(), text(user_id.as_str()));
    properties
}

#[derive(Debug, Clone)]
pub struct Users {
    store: Arc<dyn EntityStore>,
    table: String,
}

impl Users {
    pub fn new(store: Arc<dyn EntityStore>, table: String) -> Self {
        Self { store, table }
    }

    /// Claims the username, then writes the account. A taken name fails at the claim.
    pub async fn create(
        &self,
        username: Username,
        password_hash: Option<String>,
        external_key: Option<String>,
    ) -> Result<User, UserError> {
        let id = UserId::generate();
        match self
            .store
            .insert(
                &self.table,
                USERNAME_PARTITION,
                username.as_str(),
                &pointer(&id),
            )
            .await
        {
            Err(StorageError::AlreadyExists) => return Err(UserError::UsernameTaken),
            other => other?,
        };
        let mut user = User {
            id: id.clone(),
            username,
            password_hash,
            created_at: now_rfc3339(),
            failed_logins: 0,
            failed_since: None,
            locked_until: None,
            external_key,
            etag: ETag(String::new()),
        };
        match self
            .store
            .insert(
                &self.table,
                id.as_str(),
                PROFILE,
                &profile_properties(&user),
            )
            .await
        {
            Ok(etag) => user.etag = etag,
            Err(error) => {
                let _ = self
                    .store
                    .delete(
                        &self.table,
                        USERNAME_PARTITION,
                        user.username.as_str(),
                        IfMatch::Any,
                    )
                    .await;
                return Err(error.into());
            }
        }
        Ok(user)
    }

    pub async fn get(&self, id: &UserId) -> Result<User, StorageError> {
        let entity = self.store.get(&self.table, id.as_str(), PROFILE).await?;
        user_from(id.clone(), entity)
    }

    async fn follow(&self, partition: &str, key: &str) -> Result<Option<User>, StorageError> {
        let pointer = match self.store.get(&self.table, partition, key).await {
            Ok(entity) => entity,
            Err(StorageError::NotFound) => return Ok(None),
            Err(error) => return Err(error),
        };
        let Some(id) = pointer
            .properties
            .get("userId")
            .and_then(Value::as_str)
            .and_then(|id| UserId::parse(id).ok())
        else {
            return Ok(None);
        };
        match self.get(&id).await {
            Ok(user) => Ok(Some(user)),
            // A claim whose account is gone (a failed registration): treat as free.
            Err(StorageError::NotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn find_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<User>, StorageError> {
        self.follow(USERNAME_PARTITION, username.as_str()).await
    }

    pub async fn find_by_external(&self, key: &str) -> Result<Option<User>, StorageError> {
        self.follow(EXTERNAL_PARTITION, key).await
    }

    /// Records that `user` is the account for the external identity `key`; AlreadyExists if
    /// another account won a race for it.
    pub async fn link_external(&self, key: &str, user: &UserId) -> Result<(), StorageError> {
        self.store
            .insert(&self.table, EXTERNAL_PARTITION, key, &pointer(user))
            .await
            .map(|_| ())
    }

    /// Writes `user` back if it is still at the version it was read at.
    pub async fn save(&self, user: &User) -> Result<User, StorageError> {
        let etag = self
            .store
            .replace(
                &self.table,
                user.id.as_str(),
                PROFILE,
                &profile_properties(user),
                IfMatch::ETag(&user.etag),
            )
            .await?;
        Ok(User {
            etag,
            ..user.clone()
        })
    }

    /// Changes the username: claims the new one first, then saves, then frees the old one.
    pub async fn rename(&self, user: &User, new: Username) -> Result<User, UserError> {
        if new == user.username {
            return Ok(user.clone());
        }
        match self
            .store
            .insert(
                &self.table,
                USERNAME_PARTITION,
                new.as_str(),
                &pointer(&user.id),
            )
            .await
        {
            Err(StorageError::AlreadyExists) => return Err(UserError::UsernameTaken),
            other => other?,
        };
        let renamed = User {
            username: new.clone(),
            ..user.clone()
        };
        match self.save(&renamed).await {
            Ok(saved) => {
                let _ = self
                    .store
                    .delete(
                        &self.table,
                        USERNAME_PARTITION,
                        user.username.as_str(),
                        IfMatch::Any,
                    )
                    .await;
                Ok(saved)
            }
            Err(error) => {
                let _ = self
                    .store
                    .delete(&self.table, USERNAME_PARTITION, new.as_str(), IfMatch::Any)
                    .await;
                Err(error.into())
            }
        }
    }

    /// Removes the account and everything in this table that points at it.
    pub async fn delete(&self, user: &User) -> Result<(), StorageError> {
        let ignore_missing = |result: Result<(), StorageError>| match result {
            Err(StorageError::NotFound) => Ok(()),
            other => other,
        };
        if let Some(key) = &user.external_key {
            ignore_missing(
                self.store
                    .delete(&self.table, EXTERNAL_PARTITION, key, IfMatch::Any)
                    .await,
            )?;
        }
        ignore_missing(
            self.store
                .delete(
                    &self.table,
                    USERNAME_PARTITION,
                    user.username.as_str(),
                    IfMatch::Any,
                )
                .await,
        )?;
        ignore_missing(
            self.store
                .delete(&self.table, user.id.as_str(), PROFILE, IfMatch::Any)
                .await,
        )
    }
}

/// A session as stored: who, and until when (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: UserId,
    pub secret_hash: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct Sessions {
    store: Arc<dyn EntityStore>,
    table: String,
}

impl Sessions {
    pub fn new(store: Arc<dyn EntityStore>, table: String) -> Self {
        Self { store, table }
    }

    pub async fn create(&self, session: &Session) -> Result<(), StorageError> {
        let mut properties = Properties::new();
        properties.insert("expiresAt".into(), Value::from(session.expires_at));
        self.store
            .insert(
                &self.table,
                session.user.as_str(),
                &session.secret_hash,
                &properties,
            )
            .await
            .map(|_| ())
    }

    /// The session, if it exists and has not expired (an expired one is deleted on sight).
    pub async fn find(
        &self,
        user: &UserId,
        secret_hash: &str,
        now: i64,
    ) -> Result<Option<Session>, StorageError> {
        let entity = match self
            .store
            .get(&self.table, user.as_str(), secret_hash)
            .await
        {
            Ok(entity) => entity,
            Err(StorageError::NotFound) => return Ok(None),
            Err(error) => return Err(error),
        };
        let expires_at = entity
            .properties
            .get("expiresAt")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if expires_at <= now {
            let _ = self.revoke(user, secret_hash).await;
            return Ok(None);
        }
        Ok(Some(Session {
            user: user.clone(),
            secret_hash: secret_hash.to_owned(),
            expires_at,
        }))
    }

    pub async fn revoke(&self, user: &UserId, secret_hash: &str) -> Result<(), StorageError> {
        match self
            .store
            .delete(&self.table, user.as_str(), secret_hash, IfMatch::Any)
            .await
        {
            Err(StorageError::NotFound) => Ok(()),
            other => other,
        }
    }

    /// Revokes every session of `user` except `keep`; returns how many were revoked.
    pub async fn revoke_all(
        &self,
        user: &UserId,
        keep: Option<&str>,
    ) -> Result<usize, StorageError> {
        let mut revoked = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .query(
                    &self.table,
                    user.as_str(),
                    Query {
                        after_row_key: after.as_deref(),
                        limit: 1000,
                        ..Query::default()
                    },
                )
                .await?;
            let Some(last) = page.last().map(|entity| entity.row_key.clone()) else {
                return Ok(revoked);
            };
            for entity in &page {
                if Some(entity.row_key.as_str()) != keep {
                    self.revoke(user, &entity.row_key).await?;
                    revoked += 1;
                }
            }
            after = Some(last);
        }
    }

    pub async fn count(&self, user: &UserId) -> Result<usize, StorageError> {
        let page = self
            .store
            .query(
                &self.table,
                user.as_str(),
                Query {
                    limit: 10_000,
                    ..Query::default()
                },
            )
            .await?;
        Ok(page.len())
    }
}
