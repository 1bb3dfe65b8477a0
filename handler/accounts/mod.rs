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

use std::{future::Future, time::Duration};

use zeroize::Zeroizing;

use self::{
    easy_auth::Principal,
    passwords::{PasswordError, Passwords, Verified},
};
use crate::{
    domain::{now_unix, Attempts, Invalid, Owner, Reservation, UserId, Username},
    storage::{
        files::FileInfo,
        records::Record,
        users::{new_stamp, Session, User, UserError},
        wiring::{LazyStorage, Storage},
        StorageError,
    },
};

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A bearer token; the hash identifies the session (to revoke it, keep it or move it to
    /// a new credential stamp).
    Session {
        secret_hash: String,
        expires_at: i64,
    },
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
            Via::Session { secret_hash, .. } => Some(secret_hash),
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

/// Whose allowance a password check spends.
#[derive(Debug, Clone, Copy)]
enum Guard<'a> {
    Account(&'a UserId),
    /// A name no account has: counted all the same, so it locks exactly like a real one.
    Name(&'a str),
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

    /// Password hashes and verifications run since start (argon2 jobs that were not skipped).
    pub fn password_checks_run(&self) -> u64 {
        self.passwords.runs()
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
        // Fail fast on a taken name before paying for a hash; the claim below still decides.
        if storage.users.find_by_username(&name).await?.is_some() {
            return Err(AccountError::UsernameTaken);
        }
        let hash = self.passwords.hash(password).await?;
        Ok(storage.users.create(name, Some(hash), None).await?)
    }

    /// The one rule for every password check (login, and the re-authentication of a password
    /// change or an erasure): reserve an attempt with a conditional write first, and only then
    /// verify, so that of any number of concurrent guesses at most the allowance is verified
    /// and the rest are refused at once with the lock. A correct password clears the count
    /// when no other check overlapped it (and rehashes an outdated hash). Returns the account as verified, whose credential
    /// stamp a new session must carry.
    async fn check_password(
        &self,
        storage: &Storage,
        guard: Guard<'_>,
        password: Zeroizing<String>,
        wrong: AccountError,
    ) -> Result<User, AccountError> {
        // A place in the hashing queue first. Without one (the queue is full) no attempt is
        // reserved: a locked account still answers 429, any other 503, and nothing is spent
        // on a check that never runs.
        let place = self.passwords.place();
        let now = now_unix();
        let try_reserve = |attempts: &mut Attempts| -> Result<Reservation, AccountError> {
            match &place {
                Ok(_) => attempts.reserve(now).map_err(AccountError::from),
                Err(_) => match attempts.lock(now) {
                    Some(locked) => Err(locked.into()),
                    None => Err(AccountError::Overloaded),
                },
            }
        };
        let (user, reservation) = match guard {
            Guard::Account(id) => {
                match storage
                    .users
                    .update(id, |user| try_reserve(&mut user.attempts))
                    .await
                {
                    Ok((user, reservation)) => (Some(user), reservation),
                    // Erased meanwhile: nothing to count against, and nothing can succeed.
                    Err(UserError::Storage(StorageError::NotFound)) => {
                        (None, Ok(Reservation { last: false }))
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            Guard::Name(name) => (
                None,
                storage
                    .users
                    .update_name_attempts(name, |attempts| try_reserve(attempts))
                    .await?,
            ),
        };
        let reservation = reservation?;
        // What the counter looked like right after our reservation: if it still does when
        // the check succeeds, no other check overlapped ours and the count can be cleared.
        let reserved = user.as_ref().map(|user| user.attempts);
        let verified_hash = user.as_ref().and_then(|user| user.password_hash.clone());
        let verified = self
            .passwords
            .verify_in(place?, password.clone(), verified_hash.clone())
            .await?;
        let refused = || {
            if reservation.last {
                AccountError::from(Attempts::lock_answer())
            } else {
                wrong
            }
        };
        let Some(user) = user.filter(|_| verified != Verified::No) else {
            return Err(refused());
        };
        let rehashed = match verified {
            // An upgrade of the stored hash; with the queue full it waits for the next login.
            Verified::YesRehash => match self.passwords.hash(password).await {
                Ok(hash) => Some(hash),
                Err(PasswordError::Overloaded) => None,
                Err(error) => return Err(error.into()),
            },
            _ => None,
        };
        let settled = storage
            .users
            .update(&user.id, |current| {
                if current.password_hash != verified_hash {
                    // Changed while we verified: what we checked is no longer the password.
                    return false;
                }
                if let Some(reserved) = &reserved {
                    current.attempts.settle_success(reserved);
                }
                if let Some(hash) = &rehashed {
                    current.password_hash = Some(hash.clone());
                }
                true
            })
            .await;
        match settled {
            Ok((settled, true)) => Ok(settled),
            // Changed, or erased, while we verified.
            Ok((_, false)) | Err(UserError::Storage(StorageError::NotFound)) => Err(refused()),
            Err(error) => Err(error.into()),
        }
    }

    /// Exchanges a username and password for a session.
    pub async fn login(
        &self,
        username: &str,
        password: Zeroizing<String>,
    ) -> Result<SignedIn, AccountError> {
        let storage = self.storage.get().await?;
        // An invalid name cannot belong to anyone: it is counted and verified against the
        // dummy hash like any unknown one.
        let id = match Username::parse(username) {
            Ok(name) => storage.users.id_by_username(&name).await?,
            Err(_) => None,
        };
        let guard = id.as_ref().map_or(Guard::Name(username), Guard::Account);
        let user = self
            .check_password(&storage, guard, password, AccountError::WrongCredentials)
            .await?;
        if Username::parse(username).ok().as_ref() != Some(&user.username) {
            // A claim left behind by a failed rename: the account no longer holds this name.
            return Err(AccountError::WrongCredentials);
        }
        self.start_session(&storage, &user, now_unix()).await
    }

    /// A session under the account's current credential stamp: if the password changes after
    /// the check that led here, the session is dead on arrival. If the account was erased
    /// meanwhile, the session row (which carries the user's id) is removed again, like any
    /// other write that raced an erasure.
    async fn start_session(
        &self,
        storage: &Storage,
        user: &User,
        now: i64,
    ) -> Result<SignedIn, AccountError> {
        let (token, secret_hash) = tokens::issue(&user.id)
            .map_err(|_| AccountError::Internal("the system's random source failed"))?;
        let ttl = i64::try_from(self.session_ttl.as_secs()).unwrap_or(3600);
        let expires_at = now + ttl;
        storage
            .sessions
            .create(&Session {
                user: user.id.clone(),
                secret_hash: secret_hash.clone(),
                expires_at,
                stamp: user.stamp.clone(),
            })
            .await?;
        self.confirm_write(&user.id, || storage.sessions.revoke(&user.id, &secret_hash))
            .await
            .map_err(|error| match error {
                AccountError::NotSignedIn => AccountError::WrongCredentials,
                other => other,
            })?;
        Ok(SignedIn { token, expires_at })
    }

    /// The caller a bearer token proves: a live session whose credential stamp is still the
    /// account's. The session and the account are read at once.
    pub async fn authenticate_token(&self, token: &str) -> Result<Caller, AccountError> {
        let (user, secret_hash) = tokens::parse(token).ok_or(AccountError::NotSignedIn)?;
        let storage = self.storage.get().await?;
        let (session, account) = tokio::join!(
            storage.sessions.find(&user, &secret_hash, now_unix()),
            storage.users.get(&user)
        );
        let session = session?.ok_or(AccountError::NotSignedIn)?;
        let account = match account {
            Ok(account) => account,
            Err(StorageError::NotFound) => return Err(AccountError::NotSignedIn),
            Err(error) => return Err(error.into()),
        };
        if session.stamp != account.stamp {
            // Issued under a password that has since changed: it can never work again.
            let _ = storage.sessions.revoke(&user, &secret_hash).await;
            return Err(AccountError::NotSignedIn);
        }
        Ok(Caller {
            user,
            via: Via::Session {
                secret_hash,
                expires_at: session.expires_at,
            },
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

    /// Changes the username and/or the password (GDPR rectification), all or nothing. A
    /// password change needs the current password (checked like a login) and gives the
    /// account a new credential stamp: every other session dies with it.
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
        let user = current_user(&storage, caller).await?;

        let new_password = match change.password {
            None => None,
            Some(password) => {
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
                let verified = self
                    .check_password(
                        &storage,
                        Guard::Account(&user.id),
                        current,
                        AccountError::WrongPassword("the current password is wrong"),
                    )
                    .await?;
                Some((verified.password_hash, self.passwords.hash(password).await?))
            }
        };

        // The new name is claimed before anything changes, so a taken one changes nothing.
        let renamed = new_name.filter(|name| *name != user.username);
        if let Some(name) = &renamed {
            storage.users.claim(name, &user.id).await?;
        }
        let updated = storage
            .users
            .update(&user.id, |current| {
                if renamed.is_some() && current.username != user.username {
                    // Renamed by a concurrent request: ours would leave its claim behind.
                    return false;
                }
                if let Some((verified_hash, new_hash)) = &new_password {
                    if current.password_hash != *verified_hash {
                        return false;
                    }
                    current.password_hash = Some(new_hash.clone());
                    current.stamp = new_stamp();
                }
                if let Some(name) = &renamed {
                    current.username = name.clone();
                }
                true
            })
            .await;
        let user_after = match updated {
            Ok((user_after, true)) => user_after,
            outcome => {
                if let Some(name) = &renamed {
                    storage.users.release(name).await;
                }
                return Err(match outcome {
                    // Another change won the race: a password change took this session's
                    // stamp with it; a rename must be retried on the new profile.
                    Ok(_) if new_password.is_some() => AccountError::NotSignedIn,
                    Ok(_) => AccountError::Changed,
                    Err(error) => error.into(),
                });
            }
        };
        if renamed.is_some() {
            storage.users.release(&user.username).await;
        }
        if new_password.is_some() {
            if let Via::Session {
                secret_hash,
                expires_at,
            } = &caller.via
            {
                // The caller keeps their session: it moves to the new stamp.
                let own = Session {
                    user: user_after.id.clone(),
                    secret_hash: secret_hash.clone(),
                    expires_at: *expires_at,
                    stamp: user.stamp.clone(),
                };
                storage.sessions.restamp(&own, &user_after.stamp).await?;
            }
            // Dead already by their stamp; removed so they stop counting as active.
            storage
                .sessions
                .revoke_all(&user_after.id, caller.session_hash())
                .await?;
        }
        Ok(user_after)
    }

    /// Erases the account and everything held on it: records, files, sessions (GDPR erasure).
    /// `password` confirms it (checked like a login); Easy Auth callers need none.
    ///
    /// The account is made unusable first, in one conditional write (a tombstone without
    /// personal data): from then on no session works, no login succeeds and every write in
    /// flight undoes itself when it re-checks its owner ([`Accounts::confirm_write`]). Then
    /// everything is deleted, the tombstone last, and the embedded database purged of the
    /// deleted bytes. If a step fails, the tombstone stays behind with the data not yet
    /// deleted.
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
            self.check_password(
                &storage,
                Guard::Account(&user.id),
                password,
                AccountError::WrongPassword("the password is wrong"),
            )
            .await?;
        }
        let user = storage.users.tombstone(&user.id).await?;
        let owner = caller.owner();
        let records = storage.records.delete_all(&owner).await?;
        let files = storage.files.delete_all(&owner).await?;
        storage.sessions.revoke_all(&user.id, None).await?;
        storage.users.delete(&user).await?;
        storage.users.purge().await?;
        Ok(Erased { records, files })
    }

    /// Call after a write that creates something for `user` has committed. If their account
    /// was erased while the write was in flight, the write must not outlive it: `undo` runs,
    /// the deleted bytes are purged, and the caller is told they are signed out.
    pub async fn confirm_write<F, Fut>(&self, user: &UserId, undo: F) -> Result<(), AccountError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), StorageError>>,
    {
        let storage = self.storage.get().await?;
        match storage.users.get(user).await {
            Ok(_) => Ok(()),
            Err(StorageError::NotFound) => {
                match undo().await {
                    Ok(()) | Err(StorageError::NotFound) => {}
                    Err(error) => return Err(error.into()),
                }
                storage.users.purge().await?;
                Err(AccountError::NotSignedIn)
            }
            Err(error) => Err(error.into()),
        }
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
