//! Ban masks: who a room's bans and exceptions are about.
//!
//! A mask is IRC's `nick!user@host` with `*` (any run of characters) and
//! `?` (any one character), compared without case; a short form is filled
//! in (`bob` is `bob!*@*`, `*@host` is `*!*@host`). `$a:name` is about an
//! account instead (`$a:*` any logged-in user), the way Solanum and
//! InspIRCd write account bans. The host part is matched against both the
//! host everyone sees (the cloak, `user-7.chatroom`) and the real address, so an
//! operator who knows an address can ban it.

use std::net::IpAddr;

use wildmatch::WildMatch;

/// How cloaks began before they took the shape of host names.
const LEGACY_CLOAK: &str = "user/";

/// Someone as a mask sees them.
pub struct Subject<'a> {
    /// Nickname.
    pub nick: &'a str,
    /// IRC user name.
    pub user: &'a str,
    /// The host everyone sees.
    pub host: &'a str,
    /// Where they connect from.
    pub ip: IpAddr,
    /// The account they are logged into.
    pub account: Option<&'a str>,
}

/// A mask, filled in and lowercased once.
#[derive(Debug, Clone)]
pub struct Mask {
    /// As stored and shown (`bob!*@*`).
    text: String,
    pattern: Pattern,
}

#[derive(Debug, Clone)]
enum Pattern {
    /// `nick!user@host`.
    Hostmask(WildMatch),
    /// `$a:account`.
    Account(WildMatch),
}

impl Mask {
    /// The mask `raw` means, in its full form.
    pub fn new(raw: &str) -> Mask {
        if let Some(account) = raw.strip_prefix("$a:") {
            let account = if account.is_empty() { "*" } else { account };
            return Mask {
                text: format!("$a:{account}"),
                pattern: Pattern::Account(WildMatch::new(&account.to_lowercase())),
            };
        }
        let (nick, rest) = match raw.split_once('!') {
            Some((nick, rest)) => (nick, Some(rest)),
            None if raw.contains('@') => ("*", Some(raw)),
            None => (raw, None),
        };
        let (user, host) = match rest.map(|r| r.split_once('@').unwrap_or((r, "*"))) {
            Some((user, host)) => (user, host),
            None => ("*", "*"),
        };
        let or_any = |s: &str| {
            if s.is_empty() {
                "*".to_owned()
            } else {
                s.to_owned()
            }
        };
        let text = format!("{}!{}@{}", or_any(nick), or_any(user), or_any(host));
        Mask {
            pattern: Pattern::Hostmask(WildMatch::new(&text.to_lowercase())),
            text,
        }
    }

    /// A mask read back from the store. Until 2026-12-06 cloaks were
    /// `user/7`; a stored host part in that form (`*!*@user/7`,
    /// `*!*@user/*`) is read as the same users' cloaks today
    /// (`user-7.chatroom`, `user-*.chatroom`), so old bans keep their
    /// meaning.
    pub fn stored(raw: &str) -> Mask {
        match raw.split_once('@') {
            Some((who, host))
                if !raw.starts_with("$a:")
                    && host.len() > LEGACY_CLOAK.len()
                    && host
                        .get(..LEGACY_CLOAK.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(LEGACY_CLOAK)) =>
            {
                let id = &host[LEGACY_CLOAK.len()..];
                Mask::new(&format!("{who}@user-{id}.chatroom"))
            }
            _ => Mask::new(raw),
        }
    }

    /// The mask as shown in ban lists.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the mask is about `who`.
    pub fn matches(&self, who: &Subject<'_>) -> bool {
        match &self.pattern {
            Pattern::Account(pattern) => who
                .account
                .is_some_and(|a| pattern.matches(&a.to_lowercase())),
            Pattern::Hostmask(pattern) => {
                let nick = who.nick.to_lowercase();
                let user = who.user.to_lowercase();
                let seen = format!("{nick}!{user}@{}", who.host.to_lowercase());
                let real = format!("{nick}!{user}@{}", who.ip);
                pattern.matches(&seen) || pattern.matches(&real)
            }
        }
    }

    /// Whether two masks are the same entry (compared without case).
    pub fn same(&self, other: &str) -> bool {
        self.text.to_lowercase() == Mask::new(other).text.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bob(account: Option<&str>) -> Subject<'_> {
        Subject {
            nick: "Bob",
            user: "bob",
            host: "user-7.chatroom",
            ip: "192.0.2.9".parse().unwrap(),
            account,
        }
    }

    #[test]
    fn short_forms_are_filled_in() {
        assert_eq!(Mask::new("bob").as_str(), "bob!*@*");
        assert_eq!(
            Mask::new("*@user-7.chatroom").as_str(),
            "*!*@user-7.chatroom"
        );
        assert_eq!(Mask::new("bob!b").as_str(), "bob!b@*");
        assert_eq!(Mask::new("!@").as_str(), "*!*@*");
        assert_eq!(Mask::new("$a:").as_str(), "$a:*");
    }

    #[test]
    fn matches_without_case_on_the_cloak_and_the_address() {
        assert!(Mask::new("BOB").matches(&bob(None)));
        assert!(Mask::new("*!*@user-7.chatroom").matches(&bob(None)));
        assert!(Mask::new("*!*@192.0.2.*").matches(&bob(None)));
        assert!(Mask::new("b?b!*@*").matches(&bob(None)));
        assert!(!Mask::new("alice").matches(&bob(None)));
        assert!(!Mask::new("*!*@user-70.chatroom").matches(&bob(None)));
        assert!(
            Mask::new("*").matches(&bob(None)),
            "wildcards only: everyone"
        );
    }

    #[test]
    fn stored_masks_on_old_cloaks_mean_the_same_users() {
        assert_eq!(Mask::stored("*!*@user/7").as_str(), "*!*@user-7.chatroom");
        assert_eq!(Mask::stored("*@User/*").as_str(), "*!*@user-*.chatroom");
        assert!(Mask::stored("*!*@user/7").matches(&bob(None)));
        assert_eq!(Mask::stored("bob!*@user/").as_str(), "bob!*@user/");
        assert_eq!(Mask::stored("$a:user/7").as_str(), "$a:user/7");
        assert_eq!(Mask::stored("troll").as_str(), "troll!*@*");
    }

    #[test]
    fn account_masks_need_an_account() {
        assert!(Mask::new("$a:bob").matches(&bob(Some("bob"))));
        assert!(Mask::new("$a:*").matches(&bob(Some("x"))));
        assert!(!Mask::new("$a:*").matches(&bob(None)));
        assert!(!Mask::new("$a:bob").matches(&bob(Some("alice"))));
    }

    #[test]
    fn same_entry_whatever_the_case_or_form() {
        assert!(Mask::new("Bob!*@*").same("bob"));
        assert!(!Mask::new("bob").same("bob!x@*"));
    }
}
