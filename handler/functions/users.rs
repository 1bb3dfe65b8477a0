//! `users`: accounts and sessions, and the GDPR rights over everything held on a user:
//! access (`GET /api/users/me` exports it all), rectification (`PATCH`), erasure (`DELETE`).
//! A thin adapter: the rules (lockout, rehash, sessions, erasure) are in [`crate::accounts`].

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::{
    accounts::{self, Via},
    domain::rfc3339,
    error::{AppError, ErrorBody},
    http::{
        bodies::{FileBody, RecordBody},
        caller::Caller,
        json::{read_and_wipe, SecretJson},
        openapi::{JsonBodyErrors, SignedIn},
    },
    state::AppState,
    storage::users::User,
};

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

/// Creates an account.
#[utoipa::path(
    post,
    path = "/api/users",
    tag = "users",
    request_body = Credentials,
    responses(
        JsonBodyErrors,
        (status = 201, description = "Created", body = Profile),
        (status = 400, description = "Invalid username, or a weak password (the message says why)", body = ErrorBody),
        (status = 409, description = "Username taken", body = ErrorBody),
        (status = 503, description = "Storage is unreachable, or too many password checks are waiting; see Retry-After", body = ErrorBody),
    ),
)]
pub async fn register(
    State(state): State<AppState>,
    SecretJson(credentials): SecretJson<Credentials>,
) -> Result<Response, AppError> {
    let password = Zeroizing::new(credentials.password);
    let user = state
        .accounts
        .register(&credentials.username, password)
        .await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, HeaderValue::from_static("/api/users/me"))],
        Json(profile(&user)),
    )
        .into_response())
}

/// Exchanges a username and password for a bearer token.
#[utoipa::path(
    post,
    path = "/api/users/login",
    tag = "users",
    request_body = Credentials,
    responses(
        JsonBodyErrors,
        (status = 200, description = "Signed in", body = LoginResult),
        (status = 401, description = "Wrong username or password (the same answer for both)", body = ErrorBody),
        (status = 429, description = "Locked after repeated failures; `Retry-After` says for how long", body = ErrorBody),
        (status = 503, description = "Storage is unreachable, or too many password checks are waiting; see Retry-After", body = ErrorBody),
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    SecretJson(credentials): SecretJson<Credentials>,
) -> Result<Response, AppError> {
    let password = Zeroizing::new(credentials.password);
    let session = state
        .accounts
        .login(&credentials.username, password)
        .await?;
    Ok(Json(LoginResult {
        token: session.token.to_string(),
        expires_at: rfc3339(session.expires_at),
    })
    .into_response())
}

/// Revokes the token this request was made with.
#[utoipa::path(
    post,
    path = "/api/users/logout",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        SignedIn,
    ),
)]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    state.accounts.logout(&caller).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Everything held on the signed-in user: profile, records, files (GDPR access).
#[utoipa::path(
    get,
    path = "/api/users/me",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The export", body = Export),
        SignedIn,
    ),
)]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    let export = state.accounts.export(&caller).await?;
    Ok(Json(Export {
        profile: profile(&export.user),
        records: export.records.iter().map(RecordBody::from).collect(),
        files: export.files.iter().map(FileBody::from).collect(),
        active_sessions: export.active_sessions,
        exported_at: rfc3339(export.exported_at),
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
        JsonBodyErrors,
        (status = 200, description = "Changed", body = Profile),
        (status = 400, description = "Nothing to change, invalid username, weak password", body = ErrorBody),
        (status = 401, description = "Not signed in, or the current password is wrong", body = ErrorBody),
        (status = 409, description = "Username taken", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    SecretJson(change): SecretJson<ProfileChange>,
) -> Result<Response, AppError> {
    let change = accounts::ProfileChange {
        username: change.username,
        password: change.password.map(Zeroizing::new),
        current_password: change.current_password.map(Zeroizing::new),
    };
    let user = state.accounts.change(&caller, change).await?;
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
        JsonBodyErrors,
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
    // Easy Auth callers confirm nothing, so their body is not read (it may be empty).
    let password = if caller.via == Via::EasyAuth {
        None
    } else {
        let confirmation: Confirmation = read_and_wipe(&headers, body).await?;
        confirmation.password.map(Zeroizing::new)
    };
    let erased = state.accounts.erase(&caller, password).await?;
    tracing::info!(
        records = erased.records,
        files = erased.files,
        "account erased"
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}
