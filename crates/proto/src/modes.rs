//! Room modes as IRC writes them (`+ntk-l secret`), read once for every
//! protocol: IRC's `MODE` and the JSON `mode` request carry the same mode
//! string and arguments, so both say exactly the same things.
//!
//! The modes are IRC's usual channel modes: `t` topic lock, `n` no
//! messages from outside, `m` moderated, `i` invite-only, `s` secret, `k`
//! key, `l` member limit, `o` operator, `v` voice, `b` ban and `e` ban
//! exception (ISUPPORT `CHANMODES=be,k,l,imnst`, `PREFIX=(ov)@+`).

/// The room modes that are on or off, with no argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `t`: only room operators set the topic.
    TopicLock,
    /// `n`: only members send messages to the room.
    NoOutside,
    /// `m`: only operators and voiced members speak.
    Moderated,
    /// `i`: only invited users join.
    InviteOnly,
    /// `s`: the room is hidden from lists and from non-members.
    Secret,
}

impl Flag {
    /// Every flag, in the order the mode string shows them.
    pub const ALL: [Flag; 5] = [
        Flag::InviteOnly,
        Flag::Moderated,
        Flag::NoOutside,
        Flag::Secret,
        Flag::TopicLock,
    ];

    /// The flag's mode letter.
    pub fn letter(self) -> char {
        match self {
            Flag::TopicLock => 't',
            Flag::NoOutside => 'n',
            Flag::Moderated => 'm',
            Flag::InviteOnly => 'i',
            Flag::Secret => 's',
        }
    }

    /// The flag with mode letter `c`.
    pub fn from_letter(c: char) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.letter() == c)
    }
}

/// A list a room keeps of `nick!user@host` masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum List {
    /// `b`: who may not join or speak.
    Bans,
    /// `e`: who is exempt from the bans.
    Exceptions,
}

impl List {
    /// The list's mode letter.
    pub fn letter(self) -> char {
        match self {
            List::Bans => 'b',
            List::Exceptions => 'e',
        }
    }
}

/// A member's standing in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rank {
    /// `o` (`@`): moderates the room.
    Operator,
    /// `v` (`+`): speaks in a moderated room.
    Voice,
}

impl Rank {
    /// The rank's mode letter.
    pub fn letter(self) -> char {
        match self {
            Rank::Operator => 'o',
            Rank::Voice => 'v',
        }
    }

    /// The prefix shown before a nickname of this rank (`@`, `+`).
    pub fn prefix(self) -> char {
        match self {
            Rank::Operator => '@',
            Rank::Voice => '+',
        }
    }
}

/// One change a mode string asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A flag set (`true`) or cleared.
    Flag(Flag, bool),
    /// `+k key` sets the key; `-k` removes it.
    Key(Option<String>),
    /// `+l n` sets the member limit; `-l` removes it.
    Limit(Option<u32>),
    /// `+o nick` / `-o nick`, `+v nick` / `-v nick`.
    Rank(Rank, bool, String),
    /// `+b mask` / `-b mask`, `+e mask` / `-e mask`.
    Mask(List, bool, String),
    /// `b` or `e` with no mask: show the list.
    Show(List),
}

impl Change {
    /// The change's letter, sign and argument, as a mode string shows it.
    pub fn parts(&self) -> (bool, char, Option<String>) {
        match self {
            Change::Flag(flag, on) => (*on, flag.letter(), None),
            // `-k *`: the argument RFC 2812 expects, without the key.
            Change::Key(key) => (
                key.is_some(),
                'k',
                Some(key.clone().unwrap_or_else(|| "*".to_owned())),
            ),
            Change::Limit(limit) => (limit.is_some(), 'l', limit.map(|l| l.to_string())),
            Change::Rank(rank, on, nick) => (*on, rank.letter(), Some(nick.clone())),
            Change::Mask(list, on, mask) => (*on, list.letter(), Some(mask.clone())),
            Change::Show(list) => (true, list.letter(), None),
        }
    }
}

/// A part of a mode string that could not be used; the rest still applies
/// (as on IRC).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    /// Not a room mode.
    #[error("{0:?} is not a room mode")]
    Unknown(char),
    /// The mode needs an argument and none was left.
    #[error("mode {0:?} needs an argument")]
    MissingArgument(char),
    /// The argument does not fit the mode (a limit that is not a positive
    /// number, a key with spaces or commas, an overlong mask).
    #[error("{1:?} is not a valid argument for mode {0:?}")]
    BadArgument(char, String),
}

/// Most modes with an argument one request may change (ISUPPORT `MODES`).
pub const MAX_ARGUMENT_MODES: usize = 4;

/// Longest room key, in bytes (ISUPPORT `KEYLEN`).
pub const MAX_KEY_BYTES: usize = 32;

/// Longest ban or exception mask, in bytes.
pub const MAX_MASK_BYTES: usize = 200;

/// Reads a mode string (`+tn-k`, `+ov`) and its arguments, in order.
/// Returns the changes it could read and what it could not; modes with an
/// argument beyond [`MAX_ARGUMENT_MODES`] are left out.
pub fn parse<S: AsRef<str>>(modes: &str, args: &[S]) -> (Vec<Change>, Vec<ModeError>) {
    let mut args = args.iter().map(AsRef::as_ref);
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    let mut adding = true;
    let mut with_argument = 0;
    for c in modes.chars() {
        let change = match c {
            '+' => {
                adding = true;
                continue;
            }
            '-' => {
                adding = false;
                continue;
            }
            'k' if adding => match args.next() {
                Some(key) if valid_key(key) => Change::Key(Some(key.to_owned())),
                Some(key) => {
                    errors.push(ModeError::BadArgument(c, key.to_owned()));
                    continue;
                }
                None => {
                    errors.push(ModeError::MissingArgument(c));
                    continue;
                }
            },
            'k' => {
                // RFC 2812 has `-k key`; many clients send just `-k`.
                args.next();
                Change::Key(None)
            }
            'l' if adding => match args.next() {
                Some(n) => match n.parse::<u32>() {
                    Ok(n) if n > 0 => Change::Limit(Some(n)),
                    _ => {
                        errors.push(ModeError::BadArgument(c, n.to_owned()));
                        continue;
                    }
                },
                None => {
                    errors.push(ModeError::MissingArgument(c));
                    continue;
                }
            },
            'l' => Change::Limit(None),
            'o' | 'v' => {
                let rank = if c == 'o' {
                    Rank::Operator
                } else {
                    Rank::Voice
                };
                match args.next() {
                    Some(nick)
                        if !nick.is_empty() && !nick.starts_with(':') && !nick.contains(' ') =>
                    {
                        Change::Rank(rank, adding, nick.to_owned())
                    }
                    _ => {
                        errors.push(ModeError::MissingArgument(c));
                        continue;
                    }
                }
            }
            'b' | 'e' => {
                let list = if c == 'b' {
                    List::Bans
                } else {
                    List::Exceptions
                };
                match args.next() {
                    None => Change::Show(list),
                    Some(mask)
                        if mask.is_empty()
                            || mask.starts_with(':')
                            || mask.len() > MAX_MASK_BYTES
                            || mask.chars().any(|c| c == ' ' || c.is_control()) =>
                    {
                        errors.push(ModeError::BadArgument(c, truncated(mask)));
                        continue;
                    }
                    Some(mask) => Change::Mask(list, adding, mask.to_owned()),
                }
            }
            c => match Flag::from_letter(c) {
                Some(flag) => Change::Flag(flag, adding),
                None => {
                    errors.push(ModeError::Unknown(c));
                    continue;
                }
            },
        };
        if change.parts().2.is_some() {
            with_argument += 1;
            if with_argument > MAX_ARGUMENT_MODES {
                continue;
            }
        }
        changes.push(change);
    }
    (changes, errors)
}

/// Writes changes as one mode string and its arguments (`+o-v`, `[bob,
/// ann]`), as they are announced. Requests to show a list change nothing
/// and are left out.
pub fn render(changes: &[Change]) -> (String, Vec<String>) {
    let mut modes = String::new();
    let mut args = Vec::new();
    let mut sign = None;
    for change in changes.iter().filter(|c| !matches!(c, Change::Show(_))) {
        let (on, letter, arg) = change.parts();
        if sign != Some(on) {
            modes.push(if on { '+' } else { '-' });
            sign = Some(on);
        }
        modes.push(letter);
        args.extend(arg);
    }
    (modes, args)
}

/// A key has no spaces, commas or control characters, does not start
/// with `:` (it must be one IRC parameter), and fits [`MAX_KEY_BYTES`].
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(':')
        && key.len() <= MAX_KEY_BYTES
        && !key.chars().any(|c| c == ',' || c == ' ' || c.is_control())
}

/// At most the first 50 characters of `s`, for an error message.
fn truncated(s: &str) -> String {
    s.chars().take(50).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn flags_and_arguments_in_order() {
        let (changes, errors) = parse("+ntk-l+ov", &["pw", "bob", "ann"]);
        assert!(errors.is_empty());
        assert_eq!(
            changes,
            vec![
                Change::Flag(Flag::NoOutside, true),
                Change::Flag(Flag::TopicLock, true),
                Change::Key(Some("pw".into())),
                Change::Limit(None),
                Change::Rank(Rank::Operator, true, "bob".into()),
                Change::Rank(Rank::Voice, true, "ann".into()),
            ]
        );
        assert_eq!(
            render(&changes),
            (
                "+ntk-l+ov".into(),
                vec!["pw".into(), "bob".into(), "ann".into()]
            )
        );
    }

    #[test]
    fn lists_without_a_mask_are_shown() {
        let (changes, _) = parse::<&str>("b", &[]);
        assert_eq!(changes, vec![Change::Show(List::Bans)]);
        let (changes, _) = parse("-e", &["*!*@*"]);
        assert_eq!(
            changes,
            vec![Change::Mask(List::Exceptions, false, "*!*@*".into())]
        );
    }

    #[test]
    fn bad_parts_are_reported_and_the_rest_applies() {
        let (changes, errors) = parse("+xlkm", &["0", "has space"]);
        assert_eq!(changes, vec![Change::Flag(Flag::Moderated, true)]);
        assert_eq!(
            errors,
            vec![
                ModeError::Unknown('x'),
                ModeError::BadArgument('l', "0".into()),
                ModeError::BadArgument('k', "has space".into()),
            ]
        );
        let (_, errors) = parse::<&str>("+o", &[]);
        assert_eq!(errors, vec![ModeError::MissingArgument('o')]);
    }

    #[test]
    fn at_most_four_modes_with_arguments() {
        let (changes, _) = parse("+oooooo", &["a", "b", "c", "d", "e", "f"]);
        assert_eq!(changes.len(), MAX_ARGUMENT_MODES);
    }

    proptest! {
        #[test]
        fn any_input_is_read_without_panicking(modes in "\\PC{0,40}", args in proptest::collection::vec("\\PC{0,300}", 0..8)) {
            let (mut changes, _) = parse(&modes, &args);
            changes.retain(|c| !matches!(c, Change::Show(_)));
            let (rendered, rendered_args) = render(&changes);
            // What was read, written again, reads back the same.
            let (again, errors) = parse(&rendered, &rendered_args);
            prop_assert!(errors.is_empty());
            prop_assert_eq!(again, changes);
        }
    }
}
