//! Why a value from a request was refused.

/// The message names the field and the rule, so a client knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);
