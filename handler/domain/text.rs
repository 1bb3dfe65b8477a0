//! What a name a person gives may contain: something visible, and nothing that controls or
//! reorders how text is shown. Control (Cc) and format (Cf) characters include the
//! zero-width ones (U+200B–U+200F) and the bidirectional overrides (U+202A–U+202E,
//! U+2066–U+2069) that make `gnp.exe` read as `exe.png`; line and paragraph separators (Zl, Zp)
//! break a line where none is expected. The Hangul fillers and the blank Braille pattern are
//! letters and symbols that show nothing, so they are refused too; and a name of combining
//! marks alone has nothing for them to combine with.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Characters of visible categories that display as nothing.
const BLANKS: [char; 5] = ['\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}', '\u{2800}'];

/// Why `text` may not be used as a name, or `None` if it may.
pub fn hidden_or_control(text: &str) -> Option<&'static str> {
    let refused = text.chars().any(|c| {
        BLANKS.contains(&c)
            || matches!(
                c.general_category(),
                GeneralCategory::Control
                    | GeneralCategory::Format
                    | GeneralCategory::LineSeparator
                    | GeneralCategory::ParagraphSeparator
            )
    });
    if refused {
        return Some("may not contain control, invisible or line-breaking characters");
    }
    let visible = text.chars().any(|c| {
        !c.is_whitespace()
            && !matches!(
                c.general_category(),
                GeneralCategory::NonspacingMark
                    | GeneralCategory::EnclosingMark
                    | GeneralCategory::SpacingMark
            )
    });
    if !visible {
        return Some("must contain a visible character");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::hidden_or_control;

    #[test]
    fn bidi_overrides_zero_widths_and_separators_are_refused() {
        for bad in [
            "\u{202e}gnp.exe",
            "a\u{200b}b",
            "\u{2066}x",
            "a\u{2028}b",
            "a\u{2029}b",
            "a\u{0}b",
            "\u{feff}x",
            "   ",
            "\u{3164}",
            "exe.\u{3164}png",
            "\u{2800}",
            "\u{034f}",
            "\u{0300}",
            "\u{fe0f}",
        ] {
            assert!(hidden_or_control(bad).is_some(), "{bad:?}");
        }
        for good in [
            "apple",
            "ünïcode",
            "日本",
            "a b",
            "Ada Lovelace",
            "e\u{0301}",
            "❤\u{fe0f}",
        ] {
            assert_eq!(hidden_or_control(good), None, "{good:?}");
        }
    }
}
