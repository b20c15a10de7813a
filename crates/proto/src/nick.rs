//! Nickname rules, shared by every protocol so that a name valid in one is
//! valid (and means the same person) in all of them.
//!
//! A nickname is what [`normalize`] makes of what the user typed: the
//! PRECIS Nickname profile (RFC 8266, via `precis-profiles`) followed by our
//! own stricter rules. Three functions give everything the server needs:
//!
//! - [`normalize`]: the canonical display form to store and show, or why
//!   the name is refused ([`validate`] only says which);
//! - [`fold`]: the key for "same person" (`Bob`, `BOB`, `ｂｏｂ` are one user);
//! - [`skeleton`]: the key for "looks the same" (`bob`, `Ьоb` in Cyrillic,
//!   `b0b` must not belong to two different people).
//!
//! # What is mapped
//!
//! Unicode normalization form NFKC, as RFC 8266 prescribes. It composes
//! (`jose` + U+0301 COMBINING ACUTE becomes `josé`), maps fullwidth and
//! halfwidth forms to their usual ones (`ｂｏｂ` becomes `bob`) and other
//! compatibility characters to what they stand for (`①` becomes `1`, the
//! ligature `ﬁ` becomes `fi`). Case is kept.
//!
//! # What is refused
//!
//! - the empty name, and names of more than [`MAX_NICK_CHARS`] characters
//!   once normalized (characters, not bytes);
//! - whitespace of any kind (RFC 8266 would keep inner spaces; IRC can't);
//! - control characters, and everything PRECIS's FreeformClass disallows:
//!   default-ignorable code points (zero-width spaces and joiners,
//!   variation selectors such as U+FE0F, tag characters U+E0000–E007F,
//!   Hangul fillers U+115F, U+1160, U+3164, U+FFA0), every other format
//!   character (bidirectional controls, BOM, soft hyphen), private-use,
//!   unassigned and noncharacter code points, and the contextual characters
//!   (ZWJ, ZWNJ, middle dot, ...) outside the contexts RFC 5892 allows them
//!   in;
//! - characters whose UTS #39 confusable skeleton is blank, so that look
//!   empty: U+2800 BRAILLE PATTERN BLANK;
//! - the IRC delimiters `! @ , * ?`;
//! - a first character that is `#`, `&` or `:` (IRC channel prefixes and
//!   the trailing-parameter colon) or a combining mark (it would draw on
//!   whatever is shown before the name);
//! - [`SYSTEM_NICK`] in any case or disguise: any name whose [`fold`] or
//!   [`skeleton`] equals its own (`SYSTEM`, `Sуstem` with a Cyrillic `у`).
//!
//! The checks apply to the name as typed (so the error names the character
//! the user typed, e.g. U+3000 IDEOGRAPHIC SPACE) and again to the
//! normalized name (NFKC can turn `＠` into `@` or `¨` into a space and a
//! combining diaeresis).
//!
//! # Look-alikes of other people's names
//!
//! Refusing a name because it looks like someone else's needs to know who
//! else there is, so it is the hub's job; [`skeleton`] says how to do it.

use std::sync::LazyLock;

use precis_profiles::Nickname;
use precis_profiles::precis_core::profile::PrecisFastInvocation;
use precis_profiles::precis_core::{
    DerivedPropertyValue, Error as PrecisError, FreeformClass, StringClass, UnexpectedError,
};
use thiserror::Error;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// The longest nickname, in characters (not bytes), once normalized.
pub const MAX_NICK_CHARS: usize = 32;

/// The nickname the server uses for its own notices (user id 0).
pub const SYSTEM_NICK: &str = "System";

/// Input longer than this, in bytes, cannot normalize to [`MAX_NICK_CHARS`]
/// characters: with whitespace refused, NFKC only shrinks text by
/// composing a character with the marks that follow it, and no character's
/// canonical decomposition has more than four code points (U+1F82 has
/// four) of at most four bytes each. Twice that bound keeps a margin while
/// sparing the normalizer hostile megabytes.
const MAX_INPUT_BYTES: usize = MAX_NICK_CHARS * 4 * 4 * 2;

/// Characters IRC uses as delimiters in masks and target lists.
const IRC_DELIMITERS: [char; 5] = ['!', '@', ',', '*', '?'];

/// Characters that would make the name a channel or a trailing parameter.
const BAD_FIRST: [char; 3] = ['#', '&', ':'];

/// How many times [`fold`] reapplies its mapping at most: RFC 8266 §2.3
/// gives up on a string that is not stable after three more applications.
const MAX_FOLD_ROUNDS: usize = 4;

/// The skeleton every look-alike of [`SYSTEM_NICK`] has.
static SYSTEM_SKELETON: LazyLock<String> = LazyLock::new(|| skeleton(SYSTEM_NICK));

/// Why a nickname was refused; the text is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NickError {
    /// The nickname was empty.
    #[error("a nickname needs at least one character")]
    Empty,
    /// The nickname was longer than [`MAX_NICK_CHARS`] once normalized.
    #[error("a nickname has at most {MAX_NICK_CHARS} characters")]
    TooLong,
    /// The nickname contained a character it may not (named by its code
    /// point too, since many of them are invisible).
    #[error("a nickname may not contain {0:?} (U+{cp:04X})", cp = u32::from(*.0))]
    BadChar(char),
    /// The nickname started with a character it may not start with.
    #[error("a nickname may not start with {0:?} (U+{cp:04X})", cp = u32::from(*.0))]
    BadStart(char),
    /// The nickname is the server's own, in another case or a disguise.
    #[error("the nickname {SYSTEM_NICK:?} and names that look like it are reserved")]
    Reserved,
}

/// The canonical form of a nickname: what the server stores, shows to
/// everyone and answers with, or why the name is refused (see the module
/// documentation for both). Idempotent: a normalized name normalizes to
/// itself.
pub fn normalize(input: &str) -> Result<String, NickError> {
    let first = input.chars().next().ok_or(NickError::Empty)?;
    if input.len() > MAX_INPUT_BYTES {
        return Err(NickError::TooLong);
    }
    check_start(first)?;
    check_chars(input)?;
    let normalized = Nickname::enforce(input)
        .map_err(|e| precis_refusal(input, e))?
        .into_owned();
    let first = normalized.chars().next().ok_or(NickError::Empty)?;
    check_start(first)?;
    check_chars(&normalized)?;
    if normalized.chars().count() > MAX_NICK_CHARS {
        return Err(NickError::TooLong);
    }
    if fold(&normalized) == fold(SYSTEM_NICK) || skeleton(&normalized) == *SYSTEM_SKELETON {
        return Err(NickError::Reserved);
    }
    Ok(normalized)
}

/// Whether [`normalize`] accepts the nickname. The accepted name may still
/// be stored and shown in another form (`ｂｏｂ` as `bob`): the server keeps
/// what `normalize` returns.
pub fn validate(nick: &str) -> Result<(), NickError> {
    normalize(nick).map(drop)
}

/// The comparison key of a nickname: two nicknames name the same user when
/// their folded forms are equal (`Bob`, `BOB`, `bob` and `ｂｏｂ` are one
/// user; so are `jose` + U+0301 and `josé`).
///
/// Each character is mapped to lowercase (Unicode `toLowerCase`, one
/// character at a time: no language or final-sigma rules), then the string
/// is put in NFKC, and both are repeated until nothing changes, as RFC 8266
/// and RFC 8265 compare names. For every nickname that [`normalize`]
/// accepts and the PRECIS UsernameCaseMapped profile also accepts (letters
/// and digits of any script, ASCII punctuation), this is that profile's
/// result: the casemapping IRC clients are told about
/// (`CASEMAPPING=rfc8265`). Defined on any string, valid or not, and
/// idempotent: the rounds stop once nothing changes (two at most for any
/// single character, e.g. U+1D2C `ᴬ` becomes `A`, then `a`).
pub fn fold(nick: &str) -> String {
    if nick.is_ascii() {
        // ASCII is its own NFKC, and lowercases to ASCII.
        return nick.to_ascii_lowercase();
    }
    if is_folded(nick) {
        return nick.to_owned();
    }
    let mut key = lower_nfkc(nick);
    for _ in 1..MAX_FOLD_ROUNDS {
        // Already in NFKC: only lowercasing could change it again.
        if key.chars().all(lowercases_to_itself) {
            break;
        }
        key = lower_nfkc(&key);
    }
    key
}

/// The confusable skeleton of a nickname: two nicknames whose skeletons are
/// equal look alike, and must not belong to two different people.
///
/// It is the UTS #39 skeleton (Unicode's `confusables.txt`: Cyrillic `о`
/// and digit `0` look like `O`, `l`, `I` and `1` like `l`, `rn` like `m`,
/// fullwidth and mathematical letters like plain ones, default-ignorable
/// characters like nothing) taken twice, with [`fold`] in between: UTS #39
/// skeletons keep case, while nicknames compare without it, so
/// `skeleton(x) = uts39(fold(uts39(x)))` makes a look-alike of any case
/// variant collide (`ВОВ` in Cyrillic capitals looks like `BOB`, which is
/// `bob`). A skeleton is a key, not a name: never show it.
///
/// Names of one person (equal [`fold`]) need not have equal skeletons
/// (`Ian` looks like `lan`, `ian` does not), so the hub keeps the skeleton
/// of each name as it is spelled now:
///
/// - an index from skeleton to owner, for everyone online and for every
///   registered account (from the account's stored nickname);
/// - on login, rename and register: the name is refused when its skeleton
///   belongs to someone else (another user online, or an account whose
///   [`fold`] differs from the name's). A user renaming to another spelling
///   of their own name (equal [`fold`]) is fine unless that spelling looks
///   like somebody else's;
/// - the entry moves on every rename and goes with the user or account.
///
/// Such a refusal is reported like a name in use (`nickname_taken`, IRC
/// `433 ERR_NICKNAMEINUSE`): it is about another person, not about the
/// name's own characters, so [`NickError`] has no variant for it.
/// [`normalize`] already refuses look-alikes of [`SYSTEM_NICK`].
pub fn skeleton(nick: &str) -> String {
    let once: String = unicode_security::skeleton(nick).collect();
    unicode_security::skeleton(&fold(&once)).collect()
}

/// Whether two nicknames of different people look alike: the same
/// [`skeleton`], and at least one of them not plain ASCII.
///
/// Plain ASCII look-alikes (`l` and `1`, `O` and `0`, `rn` and `m`) have
/// always been told apart on IRC and in chat rooms, by people and by their
/// fonts, and numbered names (`bot1`, `botl`) are common; what UTS #39 is
/// for here is a name borrowing letters from another script or form
/// (`bоb` with a Cyrillic `о`, `ｂｏｂ`). Names that [`fold`] to the same
/// key are the same person, not look-alikes.
pub fn looks_alike(a: &str, b: &str) -> bool {
    (!a.is_ascii() || !b.is_ascii()) && fold(a) != fold(b) && skeleton(a) == skeleton(b)
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

/// Refuses a first character that would make the name a channel, a
/// trailing parameter, or a mark drawn over what precedes the name.
fn check_start(first: char) -> Result<(), NickError> {
    if BAD_FIRST.contains(&first) || is_combining_mark(first) {
        return Err(NickError::BadStart(first));
    }
    Ok(())
}

/// Refuses the first character of `nick` that no nickname may contain,
/// beyond what PRECIS disallows: see [`is_forbidden`].
fn check_chars(nick: &str) -> Result<(), NickError> {
    match nick.chars().find(|&c| is_forbidden(c)) {
        Some(c) => Err(NickError::BadChar(c)),
        None => Ok(()),
    }
}

/// Whitespace, controls, invisible formatting, IRC delimiters, and
/// characters that look blank.
fn is_forbidden(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || is_invisible(c)
        || IRC_DELIMITERS.contains(&c)
        || looks_blank(c)
}

/// Whether a character's confusable skeleton is empty or whitespace: it
/// would show as nothing, or as a space (U+2800 BRAILLE PATTERN BLANK).
fn looks_blank(c: char) -> bool {
    if c.is_ascii() {
        return false;
    }
    let mut buf = [0; 4];
    unicode_security::skeleton(c.encode_utf8(&mut buf)).all(char::is_whitespace)
}

/// Turns a PRECIS refusal into ours, naming the character at fault.
fn precis_refusal(input: &str, error: PrecisError) -> NickError {
    let at_fault = match error {
        PrecisError::BadCodepoint(info)
        | PrecisError::Unexpected(
            UnexpectedError::ContextRuleNotApplicable(info)
            | UnexpectedError::MissingContextRule(info),
        ) => char::from_u32(info.cp),
        // A context rule that could not be evaluated (a middle dot at the
        // end, a lone ZWNJ): the first character that needs a context.
        PrecisError::Unexpected(UnexpectedError::Undefined) => input.chars().find(|&c| {
            matches!(
                FreeformClass::default().get_value_from_char(c),
                DerivedPropertyValue::ContextJ | DerivedPropertyValue::ContextO
            )
        }),
        // Nothing left once spaces are mapped, no stable form, or a rule
        // the profile lacks. Our checks refuse spaces before PRECIS sees
        // them, and NFKC is stable, so none of these is expected; an empty
        // result is the only one a user could be told about.
        PrecisError::Invalid
        | PrecisError::Unexpected(UnexpectedError::ProfileRuleNotApplicable) => {
            return NickError::Empty;
        }
    };
    NickError::BadChar(at_fault.unwrap_or(char::REPLACEMENT_CHARACTER))
}

/// Each character lowercased, then NFKC.
fn lower_nfkc(text: &str) -> String {
    let lower: String = text.chars().flat_map(char::to_lowercase).collect();
    if is_nfkc_quick(lower.chars()) == IsNormalized::Yes {
        lower
    } else {
        lower.nfkc().collect()
    }
}

/// Whether [`fold`] leaves `text` as it is: lowercase, and in NFKC.
fn is_folded(text: &str) -> bool {
    text.chars().all(lowercases_to_itself) && is_nfkc_quick(text.chars()) == IsNormalized::Yes
}

/// Whether lowercasing leaves the character as it is.
fn lowercases_to_itself(c: char) -> bool {
    let mut lower = c.to_lowercase();
    lower.next() == Some(c) && lower.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use precis_profiles::UsernameCaseMapped;
    use proptest::prelude::*;

    #[test]
    fn accepts_any_script() {
        for nick in [
            "bob",
            "zhangsan",
            "张三",
            "李四",
            "小明😀",
            "Ünïcødé",
            "a",
            "x_y-z[1]",
            "😀",
            "Δημήτρης",
            "محمد",
            "l·l",
        ] {
            assert_eq!(normalize(nick).as_deref(), Ok(nick), "{nick}");
            assert_eq!(validate(nick), Ok(()), "{nick}");
        }
    }

    #[test]
    fn length_is_counted_in_characters_after_normalizing() {
        assert_eq!(validate(&"张".repeat(32)), Ok(()));
        assert_eq!(validate(&"张".repeat(33)), Err(NickError::TooLong));
        assert_eq!(validate(&"a".repeat(33)), Err(NickError::TooLong));
        assert_eq!(validate(""), Err(NickError::Empty));
        // 64 characters typed, 32 once composed.
        assert_eq!(
            normalize(&"e\u{301}".repeat(32)),
            Ok("é".repeat(32)),
            "decomposed input counts as composed"
        );
        // Eight characters typed, four of them once decomposed: too long.
        assert_eq!(validate(&"\u{3300}".repeat(8)), Ok(()));
        assert_eq!(validate(&"\u{3300}".repeat(9)), Err(NickError::TooLong));
        assert_eq!(
            validate(&"x".repeat(MAX_INPUT_BYTES + 1)),
            Err(NickError::TooLong)
        );
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
            // Mapped to a delimiter or a space by NFKC.
            ("a＠b", '@'),
            ("a¨", ' '),
            // Private use, unassigned, noncharacter.
            ("a\u{E000}", '\u{E000}'),
            ("a\u{FFFF}", '\u{FFFF}'),
            ("a\u{2FFFF}", '\u{2FFFF}'),
            // Contextual characters out of their context.
            ("x\u{200D}y", '\u{200D}'),
            ("l·", '·'),
            ("a\u{30FB}", '\u{30FB}'),
        ] {
            assert_eq!(validate(nick), Err(NickError::BadChar(bad)), "{nick:?}");
        }
        assert_eq!(validate("#room"), Err(NickError::BadStart('#')));
        assert_eq!(validate(":x"), Err(NickError::BadStart(':')));
        assert_eq!(validate("＃room"), Err(NickError::BadStart('#')));
        assert_eq!(validate("\u{301}x"), Err(NickError::BadStart('\u{301}')));
    }

    /// Issue 22, item 6: every look-alike it lists is refused or becomes its
    /// twin.
    #[test]
    fn the_reported_look_alikes_are_refused() {
        for (nick, bad) in [
            ("System\u{FE0F}", '\u{FE0F}'),
            ("System\u{E0020}", '\u{E0020}'),
            ("bob\u{3164}", '\u{3164}'),
            ("\u{2800}", '\u{2800}'),
            ("\u{FFA0}", '\u{FFA0}'),
            ("bob\u{2800}", '\u{2800}'),
            ("bob\u{115F}", '\u{115F}'),
            ("bob\u{E0062}", '\u{E0062}'),
            ("❤\u{FE0F}", '\u{FE0F}'),
        ] {
            assert_eq!(normalize(nick), Err(NickError::BadChar(bad)), "{nick:?}");
        }
    }

    #[test]
    fn the_reported_look_alikes_fold_like_their_twins() {
        assert_eq!(normalize("ｂｏｂ").as_deref(), Ok("bob"));
        assert_eq!(normalize("ＢＯＢ").as_deref(), Ok("BOB"));
        assert_eq!(normalize("jose\u{301}").as_deref(), Ok("josé"));
        assert_eq!(fold("ｂｏｂ"), fold("bob"));
        assert_eq!(fold("jose\u{301}"), fold("josé"));
        assert_eq!(fold("JOSE\u{301}"), fold("josé"));
        assert_eq!(normalize("①").as_deref(), Ok("1"));
    }

    #[test]
    fn system_is_reserved_in_any_case_or_disguise() {
        for nick in [
            "System",
            "SYSTEM",
            "system",
            "Ｓｙｓｔｅｍ",
            "Sуstem",  // Cyrillic у
            "ЅУЅТЕМ",  // all Cyrillic capitals
            "SYSTEМ",  // Cyrillic М
            "Systern", // rn looks like m
        ] {
            assert_eq!(normalize(nick), Err(NickError::Reserved), "{nick:?}");
        }
        assert_eq!(validate("Systems"), Ok(()));
        assert_eq!(validate("System1"), Ok(()));
    }

    #[test]
    fn folding_ignores_case_and_width() {
        assert_eq!(fold("Bob"), fold("bOB"));
        assert_eq!(fold("ÄÖ"), fold("äö"));
        assert_ne!(fold("bob"), fold("rob"));
        // Titlecase and modifier letters fold too (toLowerCase, then NFKC
        // gives an uppercase A, folded on the second round).
        assert_eq!(fold("\u{1F88}"), fold("\u{1F80}"));
        assert_eq!(fold("\u{1D2C}"), "a");
        // No final-sigma rule: each character on its own, as PRECIS does.
        assert_eq!(fold("ΟΔΟΣ"), "οδοσ");
    }

    /// `fold` is the casemapping advertised to IRC clients
    /// (`CASEMAPPING=rfc8265`) on every single-character nickname both
    /// accept, in every plane. A character that neither lowercasing nor
    /// NFKC changes is its own key under both, so only the others are
    /// compared.
    #[test]
    fn folding_agrees_with_rfc8265_where_both_apply() {
        let mut compared = 0;
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let typed = c.to_string();
            if lowercases_to_itself(c) && is_nfkc_quick(typed.chars()) == IsNormalized::Yes {
                continue;
            }
            let Ok(nick) = normalize(&typed) else {
                continue;
            };
            if let Ok(theirs) = UsernameCaseMapped::enforce(nick.as_str()) {
                assert_eq!(fold(&nick), theirs, "U+{:04X}", u32::from(c));
                compared += 1;
            }
        }
        assert!(compared > 1_000, "{compared}");
    }

    #[test]
    fn look_alikes_share_a_skeleton() {
        for (a, b) in [
            ("bob", "ｂｏｂ"),
            ("bob", "Ьоb"), // Cyrillic Ь and о
            ("bob", "BOB"),
            ("bob", "ВОВ"), // Cyrillic capitals
            ("bob", "b0b"),
            ("Bob", "bоb"),
            ("System", "Sуstem"),
            ("mike", "rnike"),
            ("lan", "Ian"),
            ("bill", "biII"),
            ("josé", "jose\u{301}"),
            ("张三", "张三"),
        ] {
            assert_eq!(skeleton(a), skeleton(b), "{a:?} {b:?}");
        }
        for (a, b) in [
            ("bob", "rob"),
            ("张三", "李四"),
            ("ian", "lan"),
            ("Ian", "ian"),
        ] {
            assert_ne!(skeleton(a), skeleton(b), "{a:?} {b:?}");
        }
    }

    proptest! {
        #[test]
        fn normalize_never_panics_and_is_idempotent(input in any::<String>()) {
            if let Ok(nick) = normalize(&input) {
                prop_assert_eq!(normalize(&nick), Ok(nick.clone()));
                prop_assert!(nick.chars().count() <= MAX_NICK_CHARS);
            }
        }

        #[test]
        fn normalized_names_are_idempotent(input in "\\PC{1,40}") {
            if let Ok(nick) = normalize(&input) {
                prop_assert_eq!(normalize(&nick), Ok(nick.clone()));
                prop_assert_eq!(validate(&input), Ok(()));
                prop_assert_eq!(fold(&nick), fold(&input));
            } else {
                prop_assert!(validate(&input).is_err());
            }
        }

        #[test]
        fn folding_is_stable(input in any::<String>()) {
            let key = fold(&input);
            prop_assert_eq!(fold(&key), key.clone());
            if let Ok(nick) = normalize(&input) {
                prop_assert_eq!(fold(&fold(&nick)), fold(&nick));
            }
        }

        #[test]
        fn folding_agrees_with_rfc8265_on_names(input in "[A-Za-zÀ-ɏͰ-ӿἀ-ῼＡ-ｚ0-9_\u{300}-\u{36F}]{1,12}") {
            if let Ok(nick) = normalize(&input)
                && let Ok(theirs) = UsernameCaseMapped::enforce(nick.as_str())
            {
                prop_assert_eq!(fold(&nick), theirs);
            }
        }

        #[test]
        fn skeleton_never_panics(input in any::<String>()) {
            let _ = skeleton(&input);
        }
    }

    #[test]
    fn look_alikes_borrow_from_another_script_or_form() {
        assert!(looks_alike("bob", "b\u{43E}b"));
        assert!(looks_alike("\u{430}lice", "alice"));
        // Plain ASCII names are told apart, numbered ones included.
        assert!(!looks_alike("byx9l", "byx91"));
        assert!(!looks_alike("rnoon", "moon"));
        // The same person is not a look-alike of themself.
        assert!(!looks_alike("Bob", "bob"));
        assert!(!looks_alike("jos\u{E9}", "jose\u{301}"));
    }
}
