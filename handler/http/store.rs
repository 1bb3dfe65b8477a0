//! The storage services as an extractor, opened on first use: a handler that takes [`Store`]
//! answers 503 while storage is unreachable, before it runs.

use std::{ops::Deref, sync::Arc};

use axum::{extract::FromRequestParts, http::request::Parts};

use crate::{error::AppError, state::AppState, storage::wiring::Storage};

#[derive(Debug, Clone)]
pub struct Store(pub Arc<Storage>);

impl Deref for Store {
    type Target = Storage;

    fn deref(&self) -> &Storage {
        &self.0
    }
}

impl FromRequestParts<AppState> for Store {
    type Rejection = AppError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Ok(Self(state.storage.get().await?))
    }
}
