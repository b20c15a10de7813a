//! `WHO`: who is in a channel, who has a nickname, who matches a mask, in
//! RFC 2812's `352` or IRCv3 WHOX's `354` (`WHO <mask> %<fields>[,<token>]`,
//! `WHOX` in `005`).
//!
//! The mask is a channel (its members; a secret one only for members), a
//! nickname (that user, even if invisible), or a mask with `*`/`?` (`*` or
//! `0` for everyone), matched against nicknames, user names, hosts and real
//! names, leaving out invisible users who share no channel with the asker.
//! The flag `o` keeps only server operators. Flags in the reply: `H` here
//! or `G` away, `*` for a server operator, then the channel prefix (`@`,
//! `+`) in a channel's list.

use chatroom_proto::irc::{self, Message, channel, numeric};

use super::IrcSession;
use crate::clock::now_ms;
use crate::hub::{Profile, Standing};

/// The WHOX fields in the order replies carry them.
const WHOX_ORDER: &str = "tcuihsnfdlaor";

/// The address WHOX shows for the `i` field: nobody learns anybody's.
const HIDDEN_IP: &str = "255.255.255.255";

/// How a `WHO` wants its replies.
struct WhoOptions {
    /// Only server operators (`o`).
    operators_only: bool,
    /// WHOX: the fields asked for (letters of [`WHOX_ORDER`]) and the
    /// token, if `%` was given.
    whox: Option<(String, String)>,
}

impl WhoOptions {
    /// `o`, `%fields`, `o%fields,token`.
    fn parse(options: &str) -> WhoOptions {
        let (flags, whox) = match options.split_once('%') {
            Some((flags, whox)) => (flags, Some(whox)),
            None => (options, None),
        };
        let whox = whox.map(|w| {
            let (fields, token) = w.split_once(',').unwrap_or((w, ""));
            // A token is up to three digits (ircv3 WHOX).
            let token =
                if (1..=3).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_digit()) {
                    token
                } else {
                    "0"
                };
            (fields.to_owned(), token.to_owned())
        });
        WhoOptions {
            operators_only: flags.contains('o'),
            whox,
        }
    }
}

impl IrcSession {
    /// `WHO <mask> [o][%<fields>[,<token>]]`.
    pub(super) fn who(&self, mask: &str, options: &str) {
        let Some(client) = &self.client else { return };
        let options = WhoOptions::parse(options);
        let mut found: Vec<(String, Profile, Standing)> = Vec::new();
        if channel::is_channel(mask) {
            if let Ok(room) = channel::channel_to_room(mask)
                && let Ok((room, members)) = self.hub.who(client, room)
            {
                let name = channel::room_to_channel(&room);
                found.extend(members.into_iter().map(|(p, s)| (name.clone(), p, s)));
            }
        } else if mask.is_empty() || mask == "0" || mask.contains(['*', '?']) {
            let mask = if mask.is_empty() || mask == "0" {
                "*"
            } else {
                mask
            };
            found.extend(
                self.hub
                    .who_matching(client, mask)
                    .into_iter()
                    .map(|p| ("*".to_owned(), p, Standing::default())),
            );
        } else if let Some(p) = self.hub.whois(mask) {
            found.push(("*".to_owned(), p, Standing::default()));
        }
        let mut lines: Vec<Message> = found
            .iter()
            .filter(|(_, p, _)| !options.operators_only || p.operator)
            .map(|(channel, p, standing)| match &options.whox {
                Some((fields, token)) => self.whox_reply(fields, token, channel, p, *standing),
                None => self.who_reply(channel, p, *standing),
            })
            .collect();
        let end = if mask.is_empty() {
            "*"
        } else {
            irc::safe_param(mask)
        };
        lines.push(
            self.numeric(numeric::RPL_ENDOFWHO)
                .param(end)
                .trailing_param("End of /WHO list"),
        );
        self.send_all(&lines);
    }

    /// The flags of a WHO reply: `H`/`G`, `*` for an operator, `B` for a
    /// bot, the channel prefixes.
    fn who_flags(&self, p: &Profile, standing: Standing) -> String {
        let mut flags = if p.away.is_some() { "G" } else { "H" }.to_owned();
        if p.operator {
            flags.push('*');
        }
        if p.person.bot {
            flags.push('B');
        }
        flags.push_str(standing.prefixes(self.caps.has(super::caps::MULTI_PREFIX)));
        flags
    }

    /// `352 RPL_WHOREPLY`.
    fn who_reply(&self, channel: &str, p: &Profile, standing: Standing) -> Message {
        self.numeric(numeric::RPL_WHOREPLY)
            .param(channel)
            .param(&*p.person.user)
            .param(&*p.person.host)
            .param(self.server())
            .param(&*p.person.nick)
            .param(self.who_flags(p, standing))
            .trailing_param(format!("0 {}", p.realname))
    }

    /// `354 RPL_WHOSPCRPL`: the fields asked for, in WHOX's order.
    fn whox_reply(
        &self,
        fields: &str,
        token: &str,
        channel: &str,
        p: &Profile,
        standing: Standing,
    ) -> Message {
        let mut m = self.numeric(numeric::RPL_WHOSPCRPL);
        let wanted: Vec<char> = WHOX_ORDER.chars().filter(|c| fields.contains(*c)).collect();
        for (i, field) in wanted.iter().enumerate() {
            let value = match field {
                't' => token.to_owned(),
                'c' => channel.to_owned(),
                'u' => p.person.user.to_string(),
                'i' => HIDDEN_IP.to_owned(),
                'h' => p.person.host.to_string(),
                's' => self.server().to_owned(),
                'n' => p.person.nick.to_string(),
                'f' => self.who_flags(p, standing),
                'd' => "0".to_owned(),
                'l' => ((now_ms() - p.active).max(0) / 1000).to_string(),
                'a' => p.account.clone().unwrap_or_else(|| "0".to_owned()),
                'o' => "n/a".to_owned(),
                _ => p.realname.clone(),
            };
            m = if i + 1 == wanted.len() {
                m.trailing_param(value)
            } else {
                m.param(value)
            };
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o = WhoOptions::parse("");
        assert!(!o.operators_only && o.whox.is_none());
        assert!(WhoOptions::parse("o").operators_only);
        let o = WhoOptions::parse("o%tna,42");
        assert!(o.operators_only);
        assert_eq!(o.whox, Some(("tna".to_owned(), "42".to_owned())));
        let o = WhoOptions::parse("%n,12345");
        assert_eq!(o.whox, Some(("n".to_owned(), "0".to_owned())));
        let o = WhoOptions::parse("%n,x y");
        assert_eq!(o.whox, Some(("n".to_owned(), "0".to_owned())));
    }
}
