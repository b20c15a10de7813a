//! Room moderation as people read it, for line mode and the full-screen
//! client alike: a mode change in words ("ann gives operator status to
//! bob"), a member's prefix (`@`, `+`) and place in a member list
//! (operators first), and what to do about a refusal.
//!
//! Mode strings are read with the server's own reader
//! ([`chatroom_proto::modes::parse`]), so the client understands a change
//! exactly as the server made it. The text returned is not sanitized:
//! front ends clean it as they clean everything from the network.

use chatroom_proto::ErrorCode;
use chatroom_proto::modes::{self, Change, Flag, List, Rank};

/// A member's prefix: `@` for an operator, `+` for voice, none otherwise.
pub fn prefix(operator: bool, voice: bool) -> &'static str {
    match (operator, voice) {
        (true, _) => "@",
        (false, true) => "+",
        (false, false) => "",
    }
}

/// Where a member sorts in a member list: operators (0), then voiced
/// members (1), then the others (2), as IRC clients show them.
pub fn rank_order(operator: bool, voice: bool) -> u8 {
    match (operator, voice) {
        (true, _) => 0,
        (false, true) => 1,
        (false, false) => 2,
    }
}

/// The operator and voice changes of a mode change: who, which rank, and
/// whether it was given (`true`) or taken.
pub fn rank_changes(modes: &str, args: &[String]) -> Vec<(String, Rank, bool)> {
    modes::parse(modes, args)
        .0
        .into_iter()
        .filter_map(|change| match change {
            Change::Rank(rank, on, nick) => Some((nick, rank, on)),
            _ => None,
        })
        .collect()
}

/// What a mode change made by `by` did, in words, one phrase per change
/// (`ann gives operator status to bob; ann sets +m (moderated)`).
pub fn describe(by: &str, modes: &str, args: &[String]) -> String {
    let (changes, unreadable) = modes::parse(modes, args);
    let mut phrases: Vec<String> = changes.iter().filter_map(|c| phrase(by, c)).collect();
    if phrases.is_empty() || !unreadable.is_empty() {
        let shown: Vec<&str> = std::iter::once(modes)
            .chain(args.iter().map(String::as_str))
            .collect();
        phrases.push(format!("{by} sets mode {}", shown.join(" ")));
    }
    phrases.join("; ")
}

/// One change in words; `None` for a list shown (nothing changed).
fn phrase(by: &str, change: &Change) -> Option<String> {
    let text = match change {
        Change::Rank(Rank::Operator, true, nick) => format!("{by} gives operator status to {nick}"),
        Change::Rank(Rank::Operator, false, nick) => {
            format!("{by} takes operator status from {nick}")
        }
        Change::Rank(Rank::Voice, true, nick) => format!("{by} gives voice to {nick}"),
        Change::Rank(Rank::Voice, false, nick) => format!("{by} takes voice from {nick}"),
        Change::Flag(flag, on) => {
            let (sign, off) = if *on { ('+', "") } else { ('-', " off") };
            format!(
                "{by} sets {sign}{} ({}{off})",
                flag.letter(),
                flag_name(*flag)
            )
        }
        Change::Key(Some(key)) => format!("{by} sets the room's key to {key}"),
        Change::Key(None) => format!("{by} removes the room's key"),
        Change::Limit(Some(n)) => format!("{by} limits the room to {n} members"),
        Change::Limit(None) => format!("{by} removes the member limit"),
        Change::Mask(List::Bans, true, mask) => format!("{by} bans {mask}"),
        Change::Mask(List::Bans, false, mask) => format!("{by} lifts the ban on {mask}"),
        Change::Mask(List::Exceptions, true, mask) => {
            format!("{by} exempts {mask} from the bans")
        }
        Change::Mask(List::Exceptions, false, mask) => {
            format!("{by} removes the ban exception for {mask}")
        }
        Change::Show(_) => return None,
    };
    Some(text)
}

/// A flag's name in a notice.
fn flag_name(flag: Flag) -> &'static str {
    match flag {
        Flag::TopicLock => "topic lock",
        Flag::NoOutside => "no outside messages",
        Flag::Moderated => "moderated",
        Flag::InviteOnly => "invite-only",
        Flag::Secret => "secret",
    }
}

/// What the user can do about a refusal, when the server's message does
/// not say it already.
pub fn hint(code: ErrorCode) -> Option<&'static str> {
    match code {
        ErrorCode::BadRoomKey => Some("give its key: /join ROOM KEY"),
        ErrorCode::NotRoomOperator => Some("/who shows its operators with @"),
        ErrorCode::BannedFromRoom => Some("one of its operators can still /invite you"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn mode_changes_read_as_sentences() {
        assert_eq!(
            describe("ann", "+o-v", &args(&["bob", "cy"])),
            "ann gives operator status to bob; ann takes voice from cy"
        );
        assert_eq!(
            describe("ann", "-o+v", &args(&["bob", "cy"])),
            "ann takes operator status from bob; ann gives voice to cy"
        );
        assert_eq!(describe("ann", "+m", &[]), "ann sets +m (moderated)");
        assert_eq!(
            describe("ann", "-t+i", &[]),
            "ann sets -t (topic lock off); ann sets +i (invite-only)"
        );
        assert_eq!(
            describe("ann", "+kl", &args(&["sesame", "10"])),
            "ann sets the room's key to sesame; ann limits the room to 10 members"
        );
        assert_eq!(
            describe("ann", "-kl", &args(&["*"])),
            "ann removes the room's key; ann removes the member limit"
        );
        assert_eq!(
            describe("ann", "+b-b+e", &args(&["x!*@*", "y!*@*", "$a:z"])),
            "ann bans x!*@*; ann lifts the ban on y!*@*; ann exempts $a:z from the bans"
        );
        // What this client does not know is shown as it came.
        assert_eq!(
            describe("ann", "+Q", &[]),
            "ann sets mode +Q",
            "an unknown mode"
        );
    }

    #[test]
    fn ranks_give_prefixes_and_order() {
        assert_eq!(prefix(true, true), "@");
        assert_eq!(prefix(false, true), "+");
        assert_eq!(prefix(false, false), "");
        assert!(rank_order(true, false) < rank_order(false, true));
        assert!(rank_order(false, true) < rank_order(false, false));
        assert_eq!(
            rank_changes("+om-v", &args(&["bob", "cy"])),
            [
                ("bob".to_owned(), Rank::Operator, true),
                ("cy".to_owned(), Rank::Voice, false)
            ]
        );
        assert_eq!(
            hint(ErrorCode::BadRoomKey),
            Some("give its key: /join ROOM KEY")
        );
        assert_eq!(hint(ErrorCode::NoSuchUser), None);
    }
}
