//! Nickname rules, shared by every protocol so that a name valid in one is
//! valid (and means the same person) in all of them.
//!
//! A nickname is 1 to [`MAX_NICK_CHARS`] characters of any script, Chinese
//! included, with no whitespace, no control or invisible formatting
//! characters, none of the characters that IRC uses as delimiters
//! (`! @ , * ?`), and not starting with a channel prefix or colon (`# & :`).
//! "System" is reserved for the server's own notices. Nicknames are unique
//! case-insensitively: [`fold`] gives the key to compare.

use thiserror::Error;

/// The longest nickname, in characters (not bytes).
pub const MAX_NICK_CHARS: usize = 32;

/// The nickname the server uses for its own notices (user id 0).
pub const SYSTEM_NICK: &str = "System";

/// Why a nickname was refused; the text is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NickError {
    /// The nickname was empty.
    #[error("a nickname needs at least one character")]
    Empty,
    /// The nickname was longer than [`MAX_NICK_CHARS`].
    #[error("a nickname has at most {MAX_NICK_CHARS} characters")]
    TooLong,
    /// The nickname contained a character it may not.
    #[error("a nickname may not contain {0:?}")]
    BadChar(char),
    /// The nickname started with a character it may not start with.
    #[error("a nickname may not start with {0:?}")]
    BadStart(char),
    /// The nickname is the server's own.
    #[error("the nickname {SYSTEM_NICK:?} is reserved")]
    Reserved,
}

/// Checks a nickname against the rules in the module documentation.
pub fn validate(nick: &str) -> Result<(), NickError> {
    let mut chars = nick.chars();
    let first = chars.next().ok_or(NickError::Empty)?;
    if matches!(first, '#' | '&' | ':') {
        return Err(NickError::BadStart(first));
    }
    let mut count = 0;
    for c in nick.chars() {
        count += 1;
        if count > MAX_NICK_CHARS {
            return Err(NickError::TooLong);
        }
        if c.is_whitespace() || c.is_control() || is_invisible(c) || "!@,*?".contains(c) {
            return Err(NickError::BadChar(c));
        }
    }
    if fold(nick) == fold(SYSTEM_NICK) {
        return Err(NickError::Reserved);
    }
    Ok(())
}

/// The case-folded form of a nickname: two nicknames name the same user when
/// their folded forms are equal ("Bob", "BOB" and "bob" are one user).
pub fn fold(nick: &str) -> String {
    nick.to_lowercase()
}

/// Format characters that render as nothing and let one name impersonate
/// another (zero-width spaces and joiners, bidirectional overrides, BOM).
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_any_script() {
        for nick in ["bob", "zhangsan", "张三", "Ünïcødé", "a", "x_y-z[1]", "😀"] {
            assert_eq!(validate(nick), Ok(()), "{nick}");
        }
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(validate(&"张".repeat(32)), Ok(()));
        assert_eq!(validate(&"张".repeat(33)), Err(NickError::TooLong));
        assert_eq!(validate(&"a".repeat(33)), Err(NickError::TooLong));
        assert_eq!(validate(""), Err(NickError::Empty));
    }

    #[test]
    fn refuses_whitespace_control_invisible_and_delimiters() {
        for (nick, bad) in [
            ("a b", ' '),
            ("a\tb", '\t'),
            ("a\u{3000}b", '\u{3000}'),
            ("a\u{7}", '\u{7}'),
            ("a\u{200B}b", '\u{200B}'),
            ("a\u{202E}b", '\u{202E}'),
            ("a!b", '!'),
            ("a@b", '@'),
            ("a,b", ','),
        ] {
            assert_eq!(validate(nick), Err(NickError::BadChar(bad)), "{nick:?}");
        }
        assert_eq!(validate("#room"), Err(NickError::BadStart('#')));
        assert_eq!(validate(":x"), Err(NickError::BadStart(':')));
    }

    #[test]
    fn system_is_reserved_in_any_case() {
        assert_eq!(validate("System"), Err(NickError::Reserved));
        assert_eq!(validate("SYSTEM"), Err(NickError::Reserved));
    }

    #[test]
    fn folding_ignores_case() {
        assert_eq!(fold("Bob"), fold("bOB"));
        assert_eq!(fold("ÄÖ"), fold("äö"));
        assert_ne!(fold("bob"), fold("rob"));
    }
}
