//! Room name rules, shared by every protocol.
//!
//! A room name is 1 to [`MAX_ROOM_CHARS`] characters of any script with no
//! whitespace, no control or invisible characters and none of
//! `, : # & ! @ * ?` (so that `#name` is a valid IRC channel and names never
//! need quoting). Rooms compare case-insensitively: [`fold`] gives the key.

use thiserror::Error;

use crate::nick::is_invisible;

/// The longest room name, in characters.
pub const MAX_ROOM_CHARS: usize = 32;

/// The room everyone is put in at login: the tutorial's single chat room.
pub const LOBBY: &str = "lobby";

/// The longest room topic, in characters.
pub const MAX_TOPIC_CHARS: usize = 300;

/// Why a room name was refused; the text is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RoomNameError {
    /// The name was empty.
    #[error("a room name needs at least one character")]
    Empty,
    /// The name was longer than [`MAX_ROOM_CHARS`].
    #[error("a room name has at most {MAX_ROOM_CHARS} characters")]
    TooLong,
    /// The name contained a character it may not.
    #[error("a room name may not contain {0:?}")]
    BadChar(char),
}

/// Checks a room name against the rules in the module documentation.
pub fn validate(name: &str) -> Result<(), RoomNameError> {
    if name.is_empty() {
        return Err(RoomNameError::Empty);
    }
    for (count, c) in name.chars().enumerate() {
        if count >= MAX_ROOM_CHARS {
            return Err(RoomNameError::TooLong);
        }
        if c.is_whitespace() || c.is_control() || is_invisible(c) || ",:#&!@*?".contains(c) {
            return Err(RoomNameError::BadChar(c));
        }
    }
    Ok(())
}

/// The case-folded form of a room name: equal keys name the same room.
pub fn fold(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_script_within_the_length() {
        for ok in ["lobby", "rust-lang", "中文", "a.b_c", &"房".repeat(32)] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        assert_eq!(validate(&"x".repeat(33)), Err(RoomNameError::TooLong));
        assert_eq!(validate(""), Err(RoomNameError::Empty));
    }

    #[test]
    fn delimiters_and_invisibles_are_refused() {
        for (bad, c) in [
            ("#rust", '#'),
            ("a b", ' '),
            ("a,b", ','),
            ("a:b", ':'),
            ("z\u{200B}", '\u{200B}'),
        ] {
            assert_eq!(validate(bad), Err(RoomNameError::BadChar(c)), "{bad:?}");
        }
    }

    #[test]
    fn names_fold_case() {
        assert_eq!(fold("Lobby"), fold("LOBBY"));
    }
}
