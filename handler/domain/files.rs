//! A file's name, as its owner gives it.

use std::fmt;

use super::{invalid::Invalid, text::hidden_or_control};

pub const MAX_FILE_NAME_CHARS: usize = 255;

/// A file name as the user gives it: 1 to 255 characters after trimming, `/`-separated
/// segments, none empty, `.` or `..`; no leading `/`, backslash or control character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let name = text.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_FILE_NAME_CHARS {
            return Err(Invalid(format!(
                "file name must be 1 to {MAX_FILE_NAME_CHARS} characters (got {chars})"
            )));
        }
        if name.starts_with('/') {
            return Err(Invalid("file name may not start with /".into()));
        }
        if name.contains('\\') {
            return Err(Invalid("file name may not contain backslashes".into()));
        }
        if let Some(why) = hidden_or_control(name) {
            return Err(Invalid(format!("file name {why}")));
        }
        if name
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        {
            return Err(Invalid(
                "file name segments may not be empty, `.` or `..`".into(),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::FileName;

    #[test]
    fn names_are_checked() {
        for good in [
            "report.pdf",
            "a/b.txt",
            " spaced.txt ",
            "ünïcode.txt",
            "a..b",
        ] {
            assert!(FileName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "   ",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a/./b",
            "a\\b",
            "a\u{0}b",
            "dir/",
            "\u{202e}gnp.exe",
            "a/\u{200b}",
        ] {
            assert!(FileName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(FileName::parse(&"a".repeat(255)).is_ok());
        assert!(FileName::parse(&"a".repeat(256)).is_err());
    }
}
