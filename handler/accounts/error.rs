//! Why an account operation was refused. `error.rs` at the top maps each to one HTTP status.

use super::passwords::PasswordError;
use crate::{
    domain::{Invalid, Locked},
    storage::{users::UserError, StorageError},
};

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A value the client sent breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(#[from] Invalid),
    #[error("{0}")]
    WeakPassword(String),
    #[error("that username is taken")]
    UsernameTaken,
    #[error("sign in first: send `Authorization: Bearer <token>` from POST /api/users/login")]
    NotSignedIn,
    /// The same answer for an unknown user and a wrong password.
    #[error("wrong username or password")]
    WrongCredentials,
    /// A password that confirms an operation is wrong; the message says which one.
    #[error("{0}")]
    WrongPassword(&'static str),
    #[error("too many failed password checks: the account is locked for a while")]
    Locked { retry_after_secs: u64 },
    #[error("X-MS-CLIENT-PRINCIPAL is not valid")]
    InvalidPrincipal,
    /// Another request changed the profile while this one ran.
    #[error("the profile changed while this request ran: read it again and retry")]
    Changed,
    /// Concurrent writers kept winning the race for the account.
    #[error("the account is busy; try again")]
    Busy,
    /// More password checks are waiting than the hashing threads may queue.
    #[error("too many password checks are waiting: retry in a moment")]
    Overloaded,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("{0}")]
    Internal(&'static str),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<PasswordError> for AccountError {
    fn from(error: PasswordError) -> Self {
        match error {
            PasswordError::Weak(why) => Self::WeakPassword(why),
            PasswordError::Overloaded => Self::Overloaded,
            PasswordError::Hashing(why) => Self::Hashing(why),
        }
    }
}

impl From<UserError> for AccountError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::UsernameTaken => Self::UsernameTaken,
            UserError::Busy => Self::Busy,
            // The account an operation works on is gone: erased while the request ran.
            UserError::Storage(StorageError::NotFound) => Self::NotSignedIn,
            UserError::Storage(error) => Self::Storage(error),
        }
    }
}

impl From<Locked> for AccountError {
    fn from(locked: Locked) -> Self {
        Self::Locked {
            retry_after_secs: locked.retry_after_secs,
        }
    }
}
