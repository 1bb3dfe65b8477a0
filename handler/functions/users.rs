//! `users`: accounts and sessions, and the GDPR rights over everything held on a user:
//! access (`GET /api/users/me` exports it all), rectification (`PATCH`), erasure (`DELETE`).

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::{
    auth::{
        now_unix,
        passwords::{PasswordError, Passwords, Verified},
        tokens, unauthorized, Caller, Via,
    },
    error::{AppError, ErrorBody},
    functions::{json, records::RecordBody, upload::FileBody},
    storage::{
        users::{Session, User, UserError, Username},
        Storage, StorageError,
    },
    AppState,
};

/// After this many failed logins within [`FAILURE_WINDOW_SECS`], the account is locked for
/// [`LOCK_SECS`]. The counter lives on the account, so the lock holds across instances.
pub const MAX_FAILURES: u32 = 5;
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
pub const LOCK_SECS: i64 = 15 * 60;
/// Attempts at a conditional write of the lockout counter before giving up.
const COUNTER_ATTEMPTS: usize = 5;

/// Registration and login body. The password is wiped from memory once used.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// 3 to 64 characters of `a-z 0-9 . _ -` (case-folded).
    #[schema(example = "ada")]
    username: String,
    /// 12 to 1024 characters; not the username, not a common password.
    #[schema(example = "correct horse battery staple", format = Password)]
    password: String,
}

/// PATCH /api/users/me: what to change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProfileChange {
    username: Option<String>,
    #[schema(format = Password)]
    password: Option<String>,
    /// Required to change the password.
    #[schema(format = Password)]
    current_password: Option<String>,
}

/// DELETE /api/users/me: the password confirms (not needed when signed in through Easy Auth).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    #[schema(format = Password)]
    password: Option<String>,
}

/// The account, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    id: String,
    username: String,
    created_at: String,
    /// `password` or `easyauth`.
    sign_in: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResult {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    /// RFC 3339 UTC.
    expires_at: String,
}

/// Everything held on the user.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    profile: Profile,
    records: Vec<RecordBody>,
    /// Each with its download `url`.
    files: Vec<FileBody>,
    active_sessions: usize,
    /// When this export was made (RFC 3339 UTC).
    exported_at: String,
}

fn profile(user: &User) -> Profile {
    Profile {
        id: user.id.to_string(),
        username: user.username.as_str().to_owned(),
        created_at: user.created_at.clone(),
        sign_in: if user.password_hash.is_some() {
            "password"
        } else {
            "easyauth"
        },
    }
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_default()
}

impl From<PasswordError> for AppError {
    fn from(error: PasswordError) -> Self {
        match error {
            PasswordError::Weak(why) => AppError::InvalidInput(why),
            PasswordError::Hashing(why) => AppError::internal(why),
        }
    }
}

impl From<UserError> for AppError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::UsernameTaken => AppError::Conflict("that username is taken".into()),
            UserError::Storage(error) => error.into(),
        }
    }
}

fn username(text: &str) -> Result<Username, AppError> {
    Username::parse(text).map_err(|invalid| AppError::InvalidInput(invalid.0))
}

/// Reads a JSON body that holds a password, then wipes the buffer it came in.
async fn read_secret<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<T, AppError> {
    json::read_and_wipe(headers, body).await
}

/// Creates an account.
#[utoipa::path(
    post,
    path = "/api/users",
    tag = "users",
    request_body = Credentials,
    responses(
        (status = 201, description = "Created", body = Profile),
        (status = 400, description = "Invalid username, or a weak password (the message says why)", body = ErrorBody),
        (status = 409, description = "Username taken", body = ErrorBody),
    ),
)]
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let Credentials {
        username: name,
        password,
    } = read_secret(&headers, body).await?;
    let password = Zeroizing::new(password);
    let name = username(&name)?;
    Passwords::check_policy(&password, name.as_str())?;
    let storage = state.storage.get().await?;
    // Fail fast on a taken name before paying for a hash; the insert below still decides.
    if storage.users.find_by_username(&name).await?.is_some() {
        return Err(UserError::UsernameTaken.into());
    }
    let hash = state.passwords.hash(password).await?;
    let user = storage.users.create(name, Some(hash), None).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, HeaderValue::from_static("/api/users/me"))],
        Json(profile(&user)),
    )
        .into_response())
}

fn invalid_credentials() -> AppError {
    AppError::Unauthorized("wrong username or password".into())
}

/// Exchanges a username and password for a bearer token.
#[utoipa::path(
    post,
    path = "/api/users/login",
    tag = "users",
    request_body = Credentials,
    responses(
        (status = 200, description = "Signed in", body = LoginResult),
        (status = 401, description = "Wrong username or password (the same answer for both)", body = ErrorBody),
        (status = 429, description = "Locked after repeated failures; `Retry-After` says for how long", body = ErrorBody),
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let Credentials {
        username: name,
        password,
    } = read_secret(&headers, body).await?;
    let password = Zeroizing::new(password);
    let storage = state.storage.get().await?;
    // An invalid name cannot belong to anyone: verify against the dummy like any unknown user.
    let user = match Username::parse(&name) {
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
    let verified = state.passwords.verify(password.clone(), stored).await?;
    let Some(user) = user else {
        return Err(invalid_credentials());
    };
    if verified == Verified::No {
        return match record_failure(storage, user, now).await? {
            Some(locked_until) => Err(locked(locked_until - now)),
            None => Err(invalid_credentials()),
        };
    }

    let needs_rehash = verified == Verified::YesRehash;
    if needs_rehash || user.failed_logins > 0 || user.locked_until.is_some() {
        let password_hash = if needs_rehash {
            Some(state.passwords.hash(password).await?)
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

    let (token, secret_hash) =
        tokens::issue(&user.id).map_err(|e| AppError::internal(e.to_string()))?;
    let ttl = i64::try_from(state.session_ttl.as_secs()).unwrap_or(3600);
    let expires_at = now + ttl;
    storage
        .sessions
        .create(&Session {
            user: user.id.clone(),
            secret_hash,
            expires_at,
        })
        .await?;
    Ok(Json(LoginResult {
        token: token.to_string(),
        expires_at: rfc3339(expires_at),
    })
    .into_response())
}

fn locked(retry_after_secs: i64) -> AppError {
    AppError::TooManyRequests {
        message: "too many failed logins: the account is locked for a while".into(),
        retry_after_secs: u64::try_from(retry_after_secs.max(1)).unwrap_or(1),
    }
}

/// Counts a failed login on the account, conditionally on its version so concurrent failures
/// on several instances all count. Returns the lock's end if this failure locked it.
async fn record_failure(
    storage: &Storage,
    mut user: User,
    now: i64,
) -> Result<Option<i64>, AppError> {
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
    Err(AppError::Unavailable(
        "the account is busy; try again".into(),
    ))
}

/// Revokes the token this request was made with.
#[utoipa::path(
    post,
    path = "/api/users/logout",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    if let Via::Session { secret_hash } = &caller.via {
        let storage = state.storage.get().await?;
        storage.sessions.revoke(&caller.user, secret_hash).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn current_user(storage: &Storage, caller: &Caller) -> Result<User, AppError> {
    match storage.users.get(&caller.user).await {
        Ok(user) => Ok(user),
        Err(StorageError::NotFound) => Err(unauthorized()),
        Err(error) => Err(error.into()),
    }
}

/// Everything held on the signed-in user: profile, records, files (GDPR access).
#[utoipa::path(
    get,
    path = "/api/users/me",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The export", body = Export),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
)]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    let storage = state.storage.get().await?;
    let user = current_user(storage, &caller).await?;
    let owner = caller.owner();
    let records = storage.records.all(&owner).await?;
    let files = storage.files.all(&owner).await?;
    Ok(Json(Export {
        profile: profile(&user),
        records: records.iter().map(RecordBody::from).collect(),
        files: files.iter().map(FileBody::from).collect(),
        active_sessions: storage.sessions.count(&user.id).await?,
        exported_at: rfc3339(now_unix()),
    })
    .into_response())
}

/// Changes the username and/or the password (GDPR rectification). A password change needs the
/// current password and signs out every other session.
#[utoipa::path(
    patch,
    path = "/api/users/me",
    tag = "users",
    security(("bearer" = [])),
    request_body = ProfileChange,
    responses(
        (status = 200, description = "Changed", body = Profile),
        (status = 400, description = "Nothing to change, invalid username, weak password", body = ErrorBody),
        (status = 401, description = "Not signed in, or the current password is wrong", body = ErrorBody),
        (status = 409, description = "Username taken", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let change: ProfileChange = read_secret(&headers, body).await?;
    let new_password = change.password.map(Zeroizing::new);
    let current_password = change.current_password.map(Zeroizing::new);
    if change.username.is_none() && new_password.is_none() {
        return Err(AppError::InvalidInput(
            "nothing to change: give username and/or password".into(),
        ));
    }
    let new_name = change.username.as_deref().map(username).transpose()?;
    let storage = state.storage.get().await?;
    let mut user = current_user(storage, &caller).await?;

    if let Some(password) = new_password {
        if user.password_hash.is_none() {
            return Err(AppError::InvalidInput(
                "this account signs in through its identity provider and has no password".into(),
            ));
        }
        let current = current_password.ok_or_else(|| {
            AppError::InvalidInput("changing the password needs currentPassword".into())
        })?;
        let name = new_name.as_ref().unwrap_or(&user.username);
        Passwords::check_policy(&password, name.as_str())?;
        if state
            .passwords
            .verify(current, user.password_hash.clone())
            .await?
            == Verified::No
        {
            return Err(AppError::Unauthorized(
                "the current password is wrong".into(),
            ));
        }
        user.password_hash = Some(state.passwords.hash(password).await?);
        user = storage.users.save(&user).await?;
        let keep = match &caller.via {
            Via::Session { secret_hash } => Some(secret_hash.as_str()),
            Via::EasyAuth => None,
        };
        storage.sessions.revoke_all(&user.id, keep).await?;
    }
    if let Some(name) = new_name {
        user = storage.users.rename(&user, name).await?;
    }
    Ok(Json(profile(&user)).into_response())
}

/// Erases the account and everything held on it: records, files, sessions (GDPR erasure).
#[utoipa::path(
    delete,
    path = "/api/users/me",
    tag = "users",
    security(("bearer" = [])),
    request_body(content = Confirmation, description = "The password (not needed with Easy Auth)"),
    responses(
        (status = 204, description = "Erased"),
        (status = 401, description = "Not signed in, or the password is wrong", body = ErrorBody),
    ),
)]
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let storage = state.storage.get().await?;
    let user = current_user(storage, &caller).await?;
    if caller.via != Via::EasyAuth {
        let confirmation: Confirmation = read_secret(&headers, body).await?;
        let password = confirmation
            .password
            .map(Zeroizing::new)
            .ok_or_else(|| AppError::InvalidInput("confirm with {\"password\": \"...\"}".into()))?;
        if state
            .passwords
            .verify(password, user.password_hash.clone())
            .await?
            == Verified::No
        {
            return Err(AppError::Unauthorized("the password is wrong".into()));
        }
    }
    // Data first, account last: if anything fails midway, the user can sign in and retry.
    let owner = caller.owner();
    let records = storage.records.delete_all(&owner).await?;
    let files = storage.files.delete_all(&owner).await?;
    storage.sessions.revoke_all(&user.id, None).await?;
    storage.users.delete(&user).await?;
    tracing::info!(records, files, "account erased");
    Ok(StatusCode::NO_CONTENT.into_response())
}
