//! Accounts: sign-up, sign-in with its lockout and rehash, sessions, password and username
//! changes, the GDPR export and erasure, written once over the storage services. Who is calling
//! is proved by a bearer token from [`Accounts::login`] or, behind App Service Authentication
//! with `TRUST_EASY_AUTH=true`, by the principal the platform passes ([`easy_auth`]).
//!
//! The HTTP adapter is `functions/users.rs`; the extractor that turns a request into a
//! [`Caller`] is in `http/`.

pub mod easy_auth;
mod error;
pub mod passwords;
pub mod tokens;

pub use error::AccountError;

use std::time::Duration;

use zeroize::Zeroizing;

use self::{
    easy_auth::Principal,
    passwords::{Passwords, Verified},
};
use crate::{
    domain::{now_unix, Invalid, Owner, UserId, Username},
    storage::{
        files::FileInfo,
        records::Record,
        users::{Session, User},
        wiring::{LazyStorage, Storage},
        StorageError,
    },
};

/// After this many failed logins within [`FAILURE_WINDOW_SECS`], the account is locked for
/// [`LOCK_SECS`]. The counter lives on the account, so the lock holds across instances.
pub const MAX_FAILURES: u32 = 5;
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
pub const LOCK_SECS: i64 = 15 * 60;
/// Attempts at a conditional write of the lockout counter before giving up.
const COUNTER_ATTEMPTS: usize = 5;

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A bearer token; the hash identifies the session (to revoke it, or keep it).
    Session { secret_hash: String },
    /// Easy Auth's principal header.
    EasyAuth,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserId,
    pub via: Via,
}

impl Caller {
    /// Records and files of this caller: their partition and prefix is their user id.
    pub fn owner(&self) -> Owner {
        Owner::user(&self.user)
    }

    fn session_hash(&self) -> Option<&str> {
        match &self.via {
            Via::Session { secret_hash } => Some(secret_hash),
            Via::EasyAuth => None,
        }
    }
}

/// A new session: the token to hand out (shown once) and when it expires (Unix seconds).
#[derive(Debug)]
pub struct SignedIn {
    pub token: Zeroizing<String>,
    pub expires_at: i64,
}

/// A rectification: what to change. Changing the password needs the current one.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub username: Option<String>,
    pub password: Option<Zeroizing<String>>,
    pub current_password: Option<Zeroizing<String>>,
}

/// Everything held on a user (GDPR access).
#[derive(Debug)]
pub struct Export {
    pub user: User,
    pub records: Vec<Record>,
    pub files: Vec<FileInfo>,
    pub active_sessions: usize,
    /// Unix seconds.
    pub exported_at: i64,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy)]
pub struct Erased {
    pub records: usize,
    pub files: usize,
}

/// The accounts service, shared by every request.
#[derive(Debug, Clone)]
pub struct Accounts {
    storage: LazyStorage,
    passwords: Passwords,
    session_ttl: Duration,
    trust_easy_auth: bool,
}

impl Accounts {
    pub fn new(storage: LazyStorage, session_ttl: Duration, trust_easy_auth: bool) -> Self {
        Self {
            storage,
            passwords: Passwords::new(),
            session_ttl,
            trust_easy_auth,
        }
    }

    /// Whether `X-MS-CLIENT-PRINCIPAL` may be believed (`TRUST_EASY_AUTH=true`).
    pub fn trusts_easy_auth(&self) -> bool {
        self.trust_easy_auth
    }

    /// Creates an account with a password.
    pub async fn register(
        &self,
        username: &str,
        password: Zeroizing<String>,
    ) -> Result<User, AccountError> {
        let name = Username::parse(username)?;
        Passwords::check_policy(&password, name.as_str())?;
        let storage = self.storage.get().await?;
        // Fail fast on a taken name before paying for a hash; the insert below still decides.
        if storage.users.find_by_username(&name).await?.is_some() {
            return Err(AccountError::UsernameTaken);
        }
        let hash = self.passwords.hash(password).await?;
        Ok(storage.users.create(name, Some(hash), None).await?)
    }

    /// Exchanges a username and password for a session. Failures count towards the lock.
    pub async fn login(
        &self,
        username: &str,
        password: Zeroizing<String>,
    ) -> Result<SignedIn, AccountError> {
        let storage = self.storage.get().await?;
        // An invalid name cannot belong to anyone: verify against the dummy like any unknown user.
        let user = match Username::parse(username) {
            Ok(name) => storage.users.find_by_username(&name).await?,
            Err(_) => None,
        };
        let now = now_unix();
        if let Some(locked_until) = user
            .as_ref()
            .and_then(|u| u.locked_until)
            .filter(|t| *t > now)
        {
            return Err(locked(locked_until - now));
        }
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let verified = self.passwords.verify(password.clone(), stored).await?;
        let Some(user) = user else {
            return Err(AccountError::WrongCredentials);
        };
        if verified == Verified::No {
            return match record_failure(&storage, user, now).await? {
                Some(locked_until) => Err(locked(locked_until - now)),
                None => Err(AccountError::WrongCredentials),
            };
        }

        let needs_rehash = verified == Verified::YesRehash;
        if needs_rehash || user.failed_logins > 0 || user.locked_until.is_some() {
            let password_hash = if needs_rehash {
                Some(self.passwords.hash(password).await?)
            } else {
                user.password_hash.clone()
            };
            let cleared = User {
                failed_logins: 0,
                failed_since: None,
                locked_until: None,
                password_hash,
                ..user.clone()
            };
            // Best effort: a concurrent write only means the counter resets next time.
            let _ = storage.users.save(&cleared).await;
        }
        self.start_session(&storage, &user.id, now).await
    }

    async fn start_session(
        &self,
        storage: &Storage,
        user: &UserId,
        now: i64,
    ) -> Result<SignedIn, AccountError> {
        let (token, secret_hash) = tokens::issue(user)
            .map_err(|_| AccountError::Internal("the system's random source failed"))?;
        let ttl = i64::try_from(self.session_ttl.as_secs()).unwrap_or(3600);
        let expires_at = now + ttl;
        storage
            .sessions
            .create(&Session {
                user: user.clone(),
                secret_hash,
                expires_at,
            })
            .await?;
        Ok(SignedIn { token, expires_at })
    }

    /// The caller a bearer token proves, if it names a live session.
    pub async fn authenticate_token(&self, token: &str) -> Result<Caller, AccountError> {
        let (user, secret_hash) = tokens::parse(token).ok_or(AccountError::NotSignedIn)?;
        let storage = self.storage.get().await?;
        storage
            .sessions
            .find(&user, &secret_hash, now_unix())
            .await?
            .ok_or(AccountError::NotSignedIn)?;
        Ok(Caller {
            user,
            via: Via::Session { secret_hash },
        })
    }

    /// The caller Easy Auth vouches for; their account is created on first sight.
    pub async fn authenticate_principal(
        &self,
        principal: &Principal,
    ) -> Result<Caller, AccountError> {
        let storage = self.storage.get().await?;
        let user = easy_auth::account_for(&storage, principal).await?;
        Ok(Caller {
            user,
            via: Via::EasyAuth,
        })
    }

    /// Revokes the session the caller signed in with (nothing to do for Easy Auth).
    pub async fn logout(&self, caller: &Caller) -> Result<(), AccountError> {
        if let Some(secret_hash) = caller.session_hash() {
            let storage = self.storage.get().await?;
            storage.sessions.revoke(&caller.user, secret_hash).await?;
        }
        Ok(())
    }

    /// Everything held on the caller: profile, records, files, sessions.
    pub async fn export(&self, caller: &Caller) -> Result<Export, AccountError> {
        let storage = self.storage.get().await?;
        let user = current_user(&storage, caller).await?;
        let owner = caller.owner();
        let records = storage.records.all(&owner).await?;
        let files = storage.files.all(&owner).await?;
        let active_sessions = storage.sessions.count(&user.id).await?;
        Ok(Export {
            user,
            records,
            files,
            active_sessions,
            exported_at: now_unix(),
        })
    }

    /// Changes the username and/or the password (GDPR rectification). A password change needs
    /// the current password and signs out every other session.
    pub async fn change(
        &self,
        caller: &Caller,
        change: ProfileChange,
    ) -> Result<User, AccountError> {
        if change.username.is_none() && change.password.is_none() {
            return Err(Invalid("nothing to change: give username and/or password".into()).into());
        }
        let new_name = change
            .username
            .as_deref()
            .map(Username::parse)
            .transpose()?;
        let storage = self.storage.get().await?;
        let mut user = current_user(&storage, caller).await?;

        if let Some(password) = change.password {
            if user.password_hash.is_none() {
                return Err(Invalid(
                    "this account signs in through its identity provider and has no password"
                        .into(),
                )
                .into());
            }
            let current = change
                .current_password
                .ok_or_else(|| Invalid("changing the password needs currentPassword".into()))?;
            let name = new_name.as_ref().unwrap_or(&user.username);
            Passwords::check_policy(&password, name.as_str())?;
            if self
                .passwords
                .verify(current, user.password_hash.clone())
                .await?
                == Verified::No
            {
                return Err(AccountError::WrongPassword("the current password is wrong"));
            }
            user.password_hash = Some(self.passwords.hash(password).await?);
            user = storage.users.save(&user).await?;
            storage
                .sessions
                .revoke_all(&user.id, caller.session_hash())
                .await?;
        }
        if let Some(name) = new_name {
            user = storage.users.rename(&user, name).await?;
        }
        Ok(user)
    }

    /// Erases the account and everything held on it: records, files, sessions (GDPR erasure).
    /// `password` confirms it; Easy Auth callers need none.
    pub async fn erase(
        &self,
        caller: &Caller,
        password: Option<Zeroizing<String>>,
    ) -> Result<Erased, AccountError> {
        let storage = self.storage.get().await?;
        let user = current_user(&storage, caller).await?;
        if caller.via != Via::EasyAuth {
            let password =
                password.ok_or_else(|| Invalid("confirm with {\"password\": \"...\"}".into()))?;
            if self
                .passwords
                .verify(password, user.password_hash.clone())
                .await?
                == Verified::No
            {
                return Err(AccountError::WrongPassword("the password is wrong"));
            }
        }
        // Data first, account last: if anything fails midway, the user can sign in and retry.
        let owner = caller.owner();
        let records = storage.records.delete_all(&owner).await?;
        let files = storage.files.delete_all(&owner).await?;
        storage.sessions.revoke_all(&user.id, None).await?;
        storage.users.delete(&user).await?;
        Ok(Erased { records, files })
    }
}

/// The caller's account; gone (erased meanwhile) is the same as not signed in.
async fn current_user(storage: &Storage, caller: &Caller) -> Result<User, AccountError> {
    match storage.users.get(&caller.user).await {
        Ok(user) => Ok(user),
        Err(StorageError::NotFound) => Err(AccountError::NotSignedIn),
        Err(error) => Err(error.into()),
    }
}

fn locked(retry_after_secs: i64) -> AccountError {
    AccountError::Locked {
        retry_after_secs: u64::try_from(retry_after_secs.max(1)).unwrap_or(1),
    }
}

/// Counts a failed login on the account, conditionally on its version so concurrent failures
/// on several instances all count. Returns the lock's end if this failure locked it.
async fn record_failure(
    storage: &Storage,
    mut user: User,
    now: i64,
) -> Result<Option<i64>, AccountError> {
    for _ in 0..COUNTER_ATTEMPTS {
        let in_window = user
            .failed_since
            .is_some_and(|since| now - since < FAILURE_WINDOW_SECS);
        let failures = if in_window { user.failed_logins + 1 } else { 1 };
        let locked_until = (failures >= MAX_FAILURES).then_some(now + LOCK_SECS);
        let updated = User {
            failed_logins: if locked_until.is_some() { 0 } else { failures },
            failed_since: if locked_until.is_some() {
                None
            } else if in_window {
                user.failed_since
            } else {
                Some(now)
            },
            locked_until,
            ..user.clone()
        };
        match storage.users.save(&updated).await {
            Ok(_) => return Ok(locked_until),
            Err(StorageError::PreconditionFailed) => {
                user = storage.users.get(&user.id).await?;
                if let Some(until) = user.locked_until.filter(|t| *t > now) {
                    return Ok(Some(until));
                }
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(AccountError::Busy)
}
