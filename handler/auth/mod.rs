//! Who is calling: a bearer token from `POST /api/users/login`, or, behind App Service
//! Authentication with `TRUST_EASY_AUTH=true`, the `X-MS-CLIENT-PRINCIPAL` the platform sets.
//! Functions that need a user take a [`Caller`]; without one the request is a 401.

pub mod easy_auth;
pub mod passwords;
pub mod tokens;

use axum::{extract::FromRequestParts, http::request::Parts};

use crate::{
    error::AppError,
    storage::{records::Owner, users::UserId},
    AppState,
};

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
}

pub fn unauthorized() -> AppError {
    AppError::Unauthorized(
        "sign in first: send `Authorization: Bearer <token>` from POST /api/users/login".into(),
    )
}

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if state.trust_easy_auth {
            if let Some(principal) = easy_auth::Principal::from_headers(&parts.headers)? {
                let storage = state.storage.get().await?;
                let user = easy_auth::account_for(storage, &principal).await?;
                return Ok(Self {
                    user,
                    via: Via::EasyAuth,
                });
            }
        }
        let token = bearer(parts).ok_or_else(unauthorized)?;
        let (user, secret_hash) = tokens::parse(token).ok_or_else(unauthorized)?;
        let storage = state.storage.get().await?;
        storage
            .sessions
            .find(&user, &secret_hash, now_unix())
            .await?
            .ok_or_else(unauthorized)?;
        Ok(Self {
            user,
            via: Via::Session { secret_hash },
        })
    }
}
