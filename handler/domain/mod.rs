//! The values every layer shares, parsed once and kept parsed, and the rules they enforce: no
//! I/O, and no import of anything else in this crate. Storage, services and functions depend on
//! this module; it depends on nothing.
//!
//! Each child module holds one kind of value; this file only re-exports them.

mod clock;
mod files;
mod invalid;
mod key;
mod lockout;
mod owner;
mod records;
mod secret;
mod text;
mod users;

pub use clock::{now_rfc3339, now_unix, rfc3339};
pub use files::{FileName, MAX_FILE_NAME_CHARS};
pub use invalid::Invalid;
pub use key::validate_key;
pub use lockout::{Attempts, Locked, Reservation, LOCKOUT_WINDOW_SECS, LOCK_SECS, MAX_ATTEMPTS};
pub use owner::Owner;
pub use records::{Price, RecordId, RecordName, MAX_PRICE, MAX_RECORD_NAME_CHARS};
pub use secret::Secret;
pub use text::hidden_or_control;
pub use users::{UserId, Username};
