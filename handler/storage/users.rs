//! Accounts and sessions over any [`EntityStore`].
//!
//! Users table:
//! - `PK = <user id>, RK = "profile"`: the account (username, password hash, attempts, the
//!   credential stamp); during an erasure, a tombstone holding only `erasedAt`;
//! - `PK = "username", RK = <username>`: the unique-name claim, inserted first, so two
//!   registrations of one name are decided by the store's atomic insert, not a read;
//! - `PK = "external", RK = <hash of provider + provider's user id>`: Easy Auth identities;
//! - `PK = "attempts", RK = <SHA-256 of a name no account has>`: the password checks counted
//!   against an unknown name, so it locks exactly like a real one.
//!
//! Sessions table: `PK = <user id>, RK = <SHA-256 of the token secret>`, with the credential
//! stamp the session was issued under; the secret itself is never stored, and a user's
//! sessions are one partition, so revoking them all is one query.
//!
//! Every change to a profile is a conditional write on the version read ([`Users::update`]),
//! so concurrent requests on several instances never overwrite each other's changes.

use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{ETag, Entity, EntityStore, IfMatch, Properties, Query, StorageError};
use crate::domain::{now_rfc3339, now_unix, Attempts, UserId, Username, MAX_ATTEMPTS};

const PROFILE: &str = "profile";
const USERNAME_PARTITION: &str = "username";
const EXTERNAL_PARTITION: &str = "external";
const ATTEMPTS_PARTITION: &str = "attempts";
/// Conditional writes of one entity retried this often. Each lost race means another writer
/// succeeded, and after [`MAX_ATTEMPTS`] reservations the lock stops every writer, so a burst
/// against one account settles within this many rounds.
const WRITE_ROUNDS: usize = MAX_ATTEMPTS as usize + 10;

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    /// PHC string; `None` for accounts that sign in only through Easy Auth.
    pub password_hash: Option<String>,
    pub created_at: String,
    /// Password checks counted against the account (the lockout).
    pub attempts: Attempts,
    /// Changes with every password change: a session is valid only under the stamp it was
    /// issued with.
    pub stamp: String,
    /// Key of the Easy Auth identity this account was created for.
    pub external_key: Option<String>,
    pub etag: ETag,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("that username is taken")]
    UsernameTaken,
    /// Concurrent writers kept winning the race for one entity.
    #[error("the account kept changing")]
    Busy,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A fresh credential stamp: 122 random bits.
pub fn new_stamp() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

fn attempts_properties(attempts: &Attempts, properties: &mut Properties) {
    properties.insert("failedLogins".into(), Value::from(attempts.count));
    if let Some(at) = attempts.since {
        properties.insert("failedSince".into(), Value::from(at));
    }
    if let Some(at) = attempts.locked_until {
        properties.insert("lockedUntil".into(), Value::from(at));
    }
}

fn attempts_from(p: &Properties) -> Attempts {
    let number = |name: &str| p.get(name).and_then(Value::as_i64);
    Attempts {
        count: number("failedLogins")
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        since: number("failedSince"),
        locked_until: number("lockedUntil"),
    }
}

fn profile_properties(user: &User) -> Properties {
    let mut properties = Properties::new();
    properties.insert("username".into(), text(user.username.as_str()));
    if let Some(hash) = &user.password_hash {
        properties.insert("passwordHash".into(), text(hash));
    }
    properties.insert("createdAt".into(), text(&user.created_at));
    attempts_properties(&user.attempts, &mut properties);
    properties.insert("stamp".into(), text(&user.stamp));
    if let Some(key) = &user.external_key {
        properties.insert("externalKey".into(), text(key));
    }
    properties
}

/// The account a profile entity holds; `NotFound` for a tombstone (an erasure under way).
fn user_from(id: UserId, entity: Entity) -> Result<User, StorageError> {
    let p = &entity.properties;
    if p.contains_key("erasedAt") {
        return Err(StorageError::NotFound);
    }
    let string = |name: &str| p.get(name).and_then(Value::as_str).map(str::to_owned);
    let username = string("username")
        .and_then(|name| Username::parse(&name).ok())
        .ok_or_else(|| StorageError::Backend(format!("user {id} has no valid username")))?;
    Ok(User {
        username,
        password_hash: string("passwordHash"),
        created_at: string("createdAt").unwrap_or_default(),
        attempts: attempts_from(p),
        // Accounts from before stamps, and their sessions, share the empty stamp.
        stamp: string("stamp").unwrap_or_default(),
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

/// The key the attempts against a name no account has are counted under. Hashed, so the
/// table does not collect what people typed as usernames.
fn name_key(name: &str) -> String {
    format!(
        "{:x}",
        Sha256::digest(name.trim().to_lowercase().as_bytes())
    )
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
        self.claim(&username, &id).await?;
        let mut user = User {
            id: id.clone(),
            username,
            password_hash,
            created_at: now_rfc3339(),
            attempts: Attempts::default(),
            stamp: new_stamp(),
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
                self.release(&user.username).await;
                return Err(error.into());
            }
        }
        Ok(user)
    }

    /// Reserves `name` for `id`; [`UserError::UsernameTaken`] if someone holds it.
    pub async fn claim(&self, name: &Username, id: &UserId) -> Result<(), UserError> {
        match self
            .store
            .insert(&self.table, USERNAME_PARTITION, name.as_str(), &pointer(id))
            .await
        {
            Ok(_) => Ok(()),
            Err(StorageError::AlreadyExists) => Err(UserError::UsernameTaken),
            Err(error) => Err(error.into()),
        }
    }

    /// Frees `name`. Best effort: a claim left behind by a failure points at an account that
    /// does not hold the name, which [`Users::find_by_username`] treats as free.
    pub async fn release(&self, name: &Username) {
        let _ = self
            .store
            .delete(&self.table, USERNAME_PARTITION, name.as_str(), IfMatch::Any)
            .await;
    }

    /// The account; `NotFound` if it does not exist or is being erased.
    pub async fn get(&self, id: &UserId) -> Result<User, StorageError> {
        let entity = self.store.get(&self.table, id.as_str(), PROFILE).await?;
        user_from(id.clone(), entity)
    }

    async fn pointed_at(&self, partition: &str, key: &str) -> Result<Option<UserId>, StorageError> {
        let pointer = match self.store.get(&self.table, partition, key).await {
            Ok(entity) => entity,
            Err(StorageError::NotFound) => return Ok(None),
            Err(error) => return Err(error),
        };
        Ok(pointer
            .properties
            .get("userId")
            .and_then(Value::as_str)
            .and_then(|id| UserId::parse(id).ok()))
    }

    async fn follow(&self, partition: &str, key: &str) -> Result<Option<User>, StorageError> {
        let Some(id) = self.pointed_at(partition, key).await? else {
            return Ok(None);
        };
        match self.get(&id).await {
            Ok(user) if partition != USERNAME_PARTITION || user.username.as_str() == key => {
                Ok(Some(user))
            }
            // A claim whose account is gone or holds another name (a failed registration or
            // rename): treat as free.
            Ok(_) | Err(StorageError::NotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn find_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<User>, StorageError> {
        self.follow(USERNAME_PARTITION, username.as_str()).await
    }

    /// The id the name is claimed by, without reading the account (one point read).
    pub async fn id_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<UserId>, StorageError> {
        self.pointed_at(USERNAME_PARTITION, username.as_str()).await
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

    /// Reads the account, lets `change` edit it, and writes it back only if nobody wrote in
    /// between, re-reading and re-applying `change` when someone did. Nothing is written when
    /// `change` leaves the account as it was. Returns the account as stored and what `change`
    /// said on the round that counted.
    pub async fn update<T>(
        &self,
        id: &UserId,
        mut change: impl FnMut(&mut User) -> T,
    ) -> Result<(User, T), UserError> {
        for _ in 0..WRITE_ROUNDS {
            let current = self.get(id).await?;
            let mut changed = current.clone();
            let said = change(&mut changed);
            if changed == current {
                return Ok((current, said));
            }
            match self
                .store
                .replace(
                    &self.table,
                    id.as_str(),
                    PROFILE,
                    &profile_properties(&changed),
                    IfMatch::ETag(&current.etag),
                )
                .await
            {
                Ok(etag) => return Ok((User { etag, ..changed }, said)),
                Err(StorageError::PreconditionFailed) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(UserError::Busy)
    }

    /// Like [`Users::update`] on the attempts counted against `name`, which no account has.
    pub async fn update_name_attempts<T>(
        &self,
        name: &str,
        mut change: impl FnMut(&mut Attempts) -> T,
    ) -> Result<T, UserError> {
        let key = name_key(name);
        for _ in 0..WRITE_ROUNDS {
            let current = match self.store.get(&self.table, ATTEMPTS_PARTITION, &key).await {
                Ok(entity) => Some(entity),
                Err(StorageError::NotFound) => None,
                Err(error) => return Err(error.into()),
            };
            let before = current
                .as_ref()
                .map(|entity| attempts_from(&entity.properties))
                .unwrap_or_default();
            let mut after = before;
            let said = change(&mut after);
            if after == before {
                return Ok(said);
            }
            let mut properties = Properties::new();
            attempts_properties(&after, &mut properties);
            let written = match &current {
                Some(entity) => {
                    self.store
                        .replace(
                            &self.table,
                            ATTEMPTS_PARTITION,
                            &key,
                            &properties,
                            IfMatch::ETag(&entity.etag),
                        )
                        .await
                }
                None => {
                    self.store
                        .insert(&self.table, ATTEMPTS_PARTITION, &key, &properties)
                        .await
                }
            };
            match written {
                Ok(_) => return Ok(said),
                Err(StorageError::PreconditionFailed | StorageError::AlreadyExists) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(UserError::Busy)
    }

    /// Makes the account unusable in one conditional write: the profile becomes a tombstone
    /// holding only the time, so every session (checked against the profile) dies, no login
    /// finds a password, and every write in flight sees the owner gone when it re-checks.
    /// Returns the account as it was, to erase what points at it.
    pub async fn tombstone(&self, id: &UserId) -> Result<User, UserError> {
        for _ in 0..WRITE_ROUNDS {
            let current = self.get(id).await?;
            let mut tombstone = Properties::new();
            tombstone.insert("erasedAt".into(), Value::from(now_unix()));
            match self
                .store
                .replace(
                    &self.table,
                    id.as_str(),
                    PROFILE,
                    &tombstone,
                    IfMatch::ETag(&current.etag),
                )
                .await
            {
                Ok(_) => return Ok(current),
                Err(StorageError::PreconditionFailed) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(UserError::Busy)
    }

    /// Removes the account (or its tombstone) and everything in this table that points at it.
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
        // Every name claim that points here, not only the current name's: a rename or
        // registration that failed midway can leave one behind, and it carries the id.
        let mut after: Option<String> = None;
        loop {
            let claims = self
                .store
                .query(
                    &self.table,
                    USERNAME_PARTITION,
                    Query {
                        property_equals: Some(("userId", user.id.as_str())),
                        after_row_key: after.as_deref(),
                        limit: 1000,
                    },
                )
                .await?;
            let Some(last) = claims.last().map(|claim| claim.row_key.clone()) else {
                break;
            };
            for claim in &claims {
                ignore_missing(
                    self.store
                        .delete(
                            &self.table,
                            USERNAME_PARTITION,
                            &claim.row_key,
                            IfMatch::ETag(&claim.etag),
                        )
                        .await,
                )
                .or_else(|error| match error {
                    // Claimed anew by someone else since: theirs now.
                    StorageError::PreconditionFailed => Ok(()),
                    other => Err(other),
                })?;
            }
            after = Some(last);
        }
        ignore_missing(
            self.store
                .delete(&self.table, user.id.as_str(), PROFILE, IfMatch::Any)
                .await,
        )
    }

    /// Makes deleted rows unrecoverable from the store's files, where it has any.
    pub async fn purge(&self) -> Result<(), StorageError> {
        self.store.purge().await
    }
}

/// A session as stored: who, until when (Unix seconds), and the credential stamp it was
/// issued under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: UserId,
    pub secret_hash: String,
    pub expires_at: i64,
    pub stamp: String,
}

fn session_properties(session: &Session) -> Properties {
    let mut properties = Properties::new();
    properties.insert("expiresAt".into(), Value::from(session.expires_at));
    properties.insert("stamp".into(), text(&session.stamp));
    properties
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
        self.store
            .insert(
                &self.table,
                session.user.as_str(),
                &session.secret_hash,
                &session_properties(session),
            )
            .await
            .map(|_| ())
    }

    /// Moves `session` to a new credential stamp (the caller's own, after a password change).
    pub async fn restamp(&self, session: &Session, stamp: &str) -> Result<(), StorageError> {
        let moved = Session {
            stamp: stamp.to_owned(),
            ..session.clone()
        };
        match self
            .store
            .replace(
                &self.table,
                session.user.as_str(),
                &session.secret_hash,
                &session_properties(&moved),
                IfMatch::Any,
            )
            .await
        {
            // Signed out meanwhile: nothing to move.
            Ok(_) | Err(StorageError::NotFound) => Ok(()),
            Err(error) => Err(error),
        }
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
            stamp: entity
                .properties
                .get("stamp")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
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
