//! Who a user is: an immutable id and a changeable name.

use std::fmt;

use super::invalid::Invalid;

/// The user's immutable key: a random UUID, unrelated to the (changeable) username. Kept in
/// canonical hyphenated form, which is what storage keys and tokens use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    pub fn generate() -> Self {
        Self::from_uuid(uuid::Uuid::new_v4())
    }

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        uuid::Uuid::try_parse(text)
            .map(Self::from_uuid)
            .map_err(|_| Invalid("not a user id".into()))
    }

    pub fn from_uuid(id: uuid::Uuid) -> Self {
        Self(id.hyphenated().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn uuid(&self) -> uuid::Uuid {
        // Constructed only from valid UUIDs.
        uuid::Uuid::try_parse(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 3 to 64 characters of `[a-z0-9._-]`, case-folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let folded = text.trim().to_lowercase();
        let chars = folded.chars().count();
        if !(3..=64).contains(&chars) {
            return Err(Invalid(format!(
                "username must be 3 to 64 characters (got {chars})"
            )));
        }
        if !folded
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        {
            return Err(Invalid(
                "username may contain only letters a-z, digits, `.`, `_` and `-`".into(),
            ));
        }
        Ok(Self(folded))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_case_folded_and_checked() {
        assert_eq!(
            Username::parse("  Ada.Lovelace ").unwrap().as_str(),
            "ada.lovelace"
        );
        for bad in ["ab", "has space", "ünï", "a/b", &"a".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
        assert!(Username::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn user_ids_print_in_canonical_form() {
        let id = UserId::parse("0194F0A2-7C3E-4B1A-9D4E-1234567890AB").unwrap();
        assert_eq!(id.to_string(), "0194f0a2-7c3e-4b1a-9d4e-1234567890ab");
        assert!(UserId::parse("nope").is_err());
    }
}
