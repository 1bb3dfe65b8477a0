//! The signed-in caller as an extractor: a handler that takes a [`Caller`] answers 401 to
//! anyone else, before it runs.

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};

pub use crate::accounts::Caller;
use crate::{accounts::easy_auth::Principal, error::AppError, state::AppState};

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let accounts = &state.accounts;
        if accounts.trusts_easy_auth() {
            if let Some(principal) = Principal::from_headers(&parts.headers)? {
                return Ok(accounts.authenticate_principal(&principal).await?);
            }
        }
        let token = bearer(parts).ok_or(crate::accounts::AccountError::NotSignedIn)?;
        Ok(accounts.authenticate_token(token).await?)
    }
}
