//! The clock: every timestamp the app stores or shows is UTC, as Unix seconds or RFC 3339.

use time::{format_description::well_known::Rfc3339, OffsetDateTime};

pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

pub fn now_rfc3339() -> String {
    // Formatting the current UTC time as RFC 3339 cannot fail for years 0..=9999.
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// `unix` seconds as RFC 3339; empty for a time outside years 0..=9999.
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_default()
}
