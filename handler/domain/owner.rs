//! Who records and files belong to.

use super::{invalid::Invalid, key::validate_key, users::UserId};

/// The Table partition and the blob name prefix of someone's records and files: the signed-in
/// user's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(String);

impl Owner {
    /// The owner a signed-in user is: a user id is a UUID, always a valid key.
    pub fn user(id: &UserId) -> Self {
        Self(id.as_str().to_owned())
    }

    pub fn new(key: &str) -> Result<Self, Invalid> {
        validate_key(key).map_err(|why| Invalid(why.into()))?;
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
