//! The values of a `fruit(name, price)` record.

use std::fmt;

use super::{invalid::Invalid, text::hidden_or_control};

pub const MAX_RECORD_NAME_CHARS: usize = 50;
pub const MAX_PRICE: i64 = 1_000_000_000;

/// A server-generated record id: a UUIDv7, so row-key order is creation order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordId(String);

impl RecordId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().hyphenated().to_string())
    }

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        uuid::Uuid::try_parse(text)
            .map(|id| Self(id.hyphenated().to_string()))
            .map_err(|_| Invalid(format!("{text:?} is not a record id (a UUID)")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 1 to 50 characters after trimming, something visible, no control or format characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordName(String);

impl RecordName {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let trimmed = text.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > MAX_RECORD_NAME_CHARS {
            return Err(Invalid(format!(
                "name must be 1 to {MAX_RECORD_NAME_CHARS} characters (got {chars})"
            )));
        }
        if let Some(why) = hidden_or_control(trimmed) {
            return Err(Invalid(format!("name {why}")));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whole pence, 0 to 1,000,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price(i64);

impl Price {
    pub fn parse(value: i64) -> Result<Self, Invalid> {
        if (0..=MAX_PRICE).contains(&value) {
            Ok(Self(value))
        } else {
            Err(Invalid(format!(
                "price must be an integer from 0 to {MAX_PRICE}"
            )))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(RecordName::parse("  apple ").unwrap().as_str(), "apple");
        assert!(RecordName::parse("   ").is_err());
        assert!(RecordName::parse(&"é".repeat(50)).is_ok());
        assert!(RecordName::parse(&"a".repeat(51)).is_err());
        assert!(RecordName::parse("a\u{0}b").is_err());
        assert!(RecordName::parse("\u{202e}\u{200b}").is_err());
    }

    #[test]
    fn prices_are_bounded() {
        assert!(Price::parse(0).is_ok());
        assert!(Price::parse(MAX_PRICE).is_ok());
        assert!(Price::parse(-1).is_err());
        assert!(Price::parse(MAX_PRICE + 1).is_err());
    }

    #[test]
    fn ids_are_uuids_in_canonical_form() {
        let id = RecordId::generate();
        assert_eq!(RecordId::parse(id.as_str()).unwrap(), id);
        assert!(RecordId::parse("1' or '1'='1").is_err());
        assert!(RecordId::parse("../etc").is_err());
    }

    #[test]
    fn generated_ids_sort_in_creation_order() {
        let first = RecordId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = RecordId::generate();
        assert!(first < second);
    }
}
