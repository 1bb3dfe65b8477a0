//! The rule for anything used as a storage key (an owner, a partition): Table storage forbids
//! `/ \ # ?` in keys; we also refuse control characters and empty keys.

pub fn validate_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() || key.len() > 512 {
        return Err("keys are 1 to 512 bytes");
    }
    if key
        .chars()
        .any(|c| matches!(c, '/' | '\\' | '#' | '?') || c.is_control())
    {
        return Err("keys may not contain / \\ # ? or control characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_reject_what_table_storage_forbids() {
        for bad in ["", "a/b", "a\\b", "a#b", "a?b", "a\u{7}b"] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        assert!(validate_key("public").is_ok());
        assert!(validate_key("0194f0a2-7c3e-7b1a-9d4e-1234567890ab").is_ok());
    }
}
