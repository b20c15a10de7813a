//! Queries about users and what users do to themselves: WHOIS, ISON,
//! USERHOST, AWAY, user MODE, OPER, KILL, PING.

use chatroom_proto::irc::{self, Message, Source, channel, numeric};
use chatroom_proto::json::Secret;
use chatroom_proto::nick;

use super::IrcSession;
use super::isupport::AWAYLEN;
use crate::accounts::AccountError;
use crate::clock::now_ms;

impl IrcSession {
    /// `PING token`: `PONG server :token`.
    pub(super) fn ping_command(&self, token: &str) {
        let pong = Message::new("PONG")
            .with_source(Source::server(self.server()))
            .param(self.server())
            .trailing_param(token);
        self.send(&pong);
    }

    /// `WHOIS nick`: `311`, `319` (the channels the asker may see, with
    /// prefixes), `312`, `313` for an operator, `301` if away, `330` for an
    /// account, `276` the client certificate's fingerprint (to the user
    /// and operators), `317` idle and signon times, then `318`.
    pub(super) fn whois(&self, nicks: &str) {
        let Some(client) = &self.client else { return };
        let target = nicks.split(',').next().unwrap_or("");
        let found = self
            .hub
            .whois(target)
            .zip(self.hub.rooms_of(client, target));
        let Some((p, rooms)) = found else {
            let nick = irc::safe_param(target);
            return self.send_all(&[
                self.numeric(numeric::ERR_NOSUCHNICK)
                    .param(nick)
                    .trailing_param("No such nick/channel"),
                self.numeric(numeric::RPL_ENDOFWHOIS)
                    .param(nick)
                    .trailing_param("End of /WHOIS list"),
            ]);
        };
        let about = |n| self.numeric(n).param(&*p.person.nick);
        let mut lines = vec![
            about(numeric::RPL_WHOISUSER)
                .param(&*p.person.user)
                .param(&*p.person.host)
                .param("*")
                .trailing_param(&p.realname),
        ];
        let all = self.caps.has(super::caps::MULTI_PREFIX);
        let channels: Vec<String> = rooms
            .iter()
            .map(|(room, standing)| {
                format!(
                    "{}{}",
                    standing.prefixes(all),
                    channel::room_to_channel(room)
                )
            })
            .collect();
        lines.extend(irc::fit_words(
            &about(numeric::RPL_WHOISCHANNELS),
            channels.iter().map(String::as_str),
        ));
        lines.push(
            about(numeric::RPL_WHOISSERVER)
                .param(self.server())
                .trailing_param(&*self.settings.description),
        );
        if p.operator {
            lines.push(about(numeric::RPL_WHOISOPERATOR).trailing_param("is an IRC operator"));
        }
        if p.person.bot {
            lines.push(about(numeric::RPL_WHOISBOT).trailing_param("is a bot"));
        }
        if let Some(away) = &p.away {
            lines.push(about(numeric::RPL_AWAY).trailing_param(away));
        }
        if let Some(account) = &p.account {
            lines.push(
                about(numeric::RPL_WHOISACCOUNT)
                    .param(account)
                    .trailing_param("is logged in as"),
            );
        }
        // A fingerprint identifies its holder across networks: only they
        // and server operators see it.
        if let Some(certfp) = &p.certfp
            && (p.person.id == client.id || self.hub.is_operator(client))
        {
            lines.push(
                about(numeric::RPL_WHOISCERTFP)
                    .trailing_param(format!("has client certificate fingerprint {certfp}")),
            );
        }
        let idle = (now_ms() - p.active).max(0) / 1000;
        lines.push(
            about(numeric::RPL_WHOISIDLE)
                .param(idle.to_string())
                .param((p.since / 1000).to_string())
                .trailing_param("seconds idle, signon time"),
        );
        lines.push(about(numeric::RPL_ENDOFWHOIS).trailing_param("End of /WHOIS list"));
        self.send_all(&lines);
    }

    /// `ISON nicks...`: which are online.
    pub(super) fn ison(&self, args: &[String]) {
        let online = self
            .hub
            .online_nicks(args.iter().flat_map(|a| a.split(' ')));
        let m = self
            .numeric(numeric::RPL_ISON)
            .trailing_param(online.join(" "));
        self.send(&m);
    }

    /// `USERHOST nicks...` (up to five).
    pub(super) fn userhost(&self, args: &[String]) {
        let entries: Vec<String> = args
            .iter()
            .flat_map(|a| a.split(' '))
            .take(5)
            .filter_map(|nick| self.hub.whois(nick))
            .map(|p| {
                let away = if p.away.is_some() { '-' } else { '+' };
                format!(
                    "{}={away}{}@{}",
                    p.person.nick, p.person.user, p.person.host
                )
            })
            .collect();
        let m = self
            .numeric(numeric::RPL_USERHOST)
            .trailing_param(entries.join(" "));
        self.send(&m);
    }

    /// `AWAY :message` sets, `AWAY` clears.
    pub(super) fn away(&self, message: Option<&str>) {
        let Some(client) = &self.client else { return };
        let m = match message.filter(|m| !m.is_empty()) {
            Some(text) => {
                self.hub
                    .set_away(client, Some(text.chars().take(AWAYLEN).collect()));
                self.numeric(numeric::RPL_NOWAWAY)
                    .trailing_param("You have been marked as being away")
            }
            None => {
                self.hub.set_away(client, None);
                self.numeric(numeric::RPL_UNAWAY)
                    .trailing_param("You are no longer marked as being away")
            }
        };
        self.send(&m);
    }

    /// `MODE target [change]`: a channel's, or one's own user modes (`i`).
    pub(super) fn mode(&mut self, target: &str, change: Option<&str>) {
        if nick::fold(target) != nick::fold(&self.addressee()) {
            let m = self
                .numeric(numeric::ERR_USERSDONTMATCH)
                .trailing_param("Can't change mode for other users");
            return self.send(&m);
        }
        let Some(change) = change else {
            let mut modes = String::from("+");
            if self.invisible {
                modes.push('i');
            }
            if self.wallops {
                modes.push('w');
            }
            if self.bot {
                modes.push('B');
            }
            let m = self.numeric(numeric::RPL_UMODEIS).param(modes);
            return self.send(&m);
        };
        let mut adding = true;
        let mut applied = String::new();
        for c in change.chars() {
            match c {
                '+' => adding = true,
                '-' => adding = false,
                'i' => {
                    self.invisible = adding;
                    if let Some(client) = &self.client {
                        self.hub.set_invisible(client, adding);
                    }
                    applied.push_str(if adding { "+i" } else { "-i" });
                }
                'w' => {
                    self.wallops = adding;
                    self.update_wants();
                    applied.push_str(if adding { "+w" } else { "-w" });
                }
                'B' => {
                    self.bot = adding;
                    if let Some(client) = &self.client {
                        self.hub.set_bot(client, adding);
                    }
                    applied.push_str(if adding { "+B" } else { "-B" });
                }
                _ => {
                    let m = self
                        .numeric(numeric::ERR_UMODEUNKNOWNFLAG)
                        .trailing_param("Unknown MODE flag");
                    self.send(&m);
                }
            }
        }
        if !applied.is_empty() {
            let nick = self.addressee();
            let m = Message::new("MODE")
                .with_source(Source::user(&nick, "*", "*"))
                .param(&nick)
                .trailing_param(applied);
            self.send(&m);
        }
    }

    /// `WALLOPS :text`, for server operators: to everyone with user mode
    /// `w`.
    pub(super) fn wallops_command(&self, text: &str) {
        if let Some(client) = &self.client
            && let Err(e) = self.hub.wallops(client, text)
        {
            self.hub_error(&e, text);
        }
    }

    /// `OPER name password`: server operator credentials.
    pub(super) async fn oper(&mut self, name: &str, password: &str) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let checked = self
            .hub
            .accounts()
            .oper(name, &Secret::new(password), self.peer.ip())
            .await;
        let m = match checked.map(|()| self.hub.promote(&client)) {
            Ok(Ok(())) => {
                self.send(
                    &self
                        .numeric(numeric::RPL_YOUREOPER)
                        .trailing_param("You are now an IRC operator"),
                );
                // User mode `o`, as every IRC server announces it.
                let nick = self.addressee();
                Message::new("MODE")
                    .with_source(self.me())
                    .param(&nick)
                    .trailing_param("+o")
            }
            Ok(Err(_)) => return,
            Err(e) => {
                if matches!(e, AccountError::WrongPassword(_)) {
                    self.wrong_passwords += 1;
                }
                self.numeric(numeric::ERR_PASSWDMISMATCH)
                    .trailing_param(format!("Password incorrect: {e}"))
            }
        };
        self.send(&m);
    }

    /// `KILL nick [reason]`, for operators.
    /// `CHGHOST nick host` (server operators): the host others see for
    /// `nick` from now on.
    pub(super) fn chghost(&self, target: &str, host: &str) {
        let Some(client) = &self.client else { return };
        if !self.hub.is_operator(client) {
            return self.hub_error(&crate::hub::HubError::NotOperator, target);
        }
        if !valid_host(host) {
            let m = self.fail(
                "CHGHOST",
                "INVALID_PARAMS",
                Some(host),
                "A host is 1-63 letters, digits, '-', '.' and ':', not starting with ':' or '-'",
            );
            return self.send(&m);
        }
        if let Err(e) = self.hub.change_host(client, target, host) {
            self.hub_error(&e, target);
        }
    }

    pub(super) fn kill(&self, target: &str) {
        if let Some(client) = &self.client
            && let Err(e) = self.hub.kill(client, target)
        {
            self.hub_error(&e, target);
        }
    }
}

/// Whether `host` may be shown as someone's host: what IRC clients and
/// ban masks take (letters, digits, `-`, `.` and `:` for IPv6), never a
/// parameter of its own nor a wildcard.
fn valid_host(host: &str) -> bool {
    (1..=63).contains(&host.len())
        && !host.starts_with([':', '-'])
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_host_names() {
        for good in ["staff.example.org", "vhost-1", "2001:db8::1", "a"] {
            assert!(valid_host(good), "{good}");
        }
        for bad in [
            "",
            ":x",
            "-x",
            "a b",
            "*.example",
            "ex@mple",
            "x!y",
            "é.org",
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
        assert!(!valid_host(&"a".repeat(64)));
    }
}
