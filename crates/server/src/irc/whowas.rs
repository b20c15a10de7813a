//! `WHOWAS <nick> [<count>]`: who had a nickname before, from the hub's
//! nickname history, most recent first: a `314` and a `312` (with when
//! they left it) per entry, or `406` when nobody did, then `369`. A count
//! of 0 or less (or none) means every entry kept.

use chatroom_proto::irc::{self, numeric};

use super::IrcSession;
use super::events::irc_time;

impl IrcSession {
    /// `WHOWAS <nick> [<count>]` (only the first of several nicknames).
    pub(super) fn whowas(&self, nicks: &str, count: &str) {
        let nick = nicks.split(',').next().unwrap_or("");
        let count = count
            .parse::<i64>()
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        let mut lines = Vec::new();
        let entries = self.hub.whowas(nick, count);
        if entries.is_empty() {
            lines.push(
                self.numeric(numeric::ERR_WASNOSUCHNICK)
                    .param(irc::safe_param(nick))
                    .trailing_param("There was no such nickname"),
            );
        }
        for entry in &entries {
            lines.push(
                self.numeric(numeric::RPL_WHOWASUSER)
                    .param(&entry.nick)
                    .param(&entry.user)
                    .param(&entry.host)
                    .param("*")
                    .trailing_param(&entry.realname),
            );
            lines.push(
                self.numeric(numeric::RPL_WHOISSERVER)
                    .param(&entry.nick)
                    .param(self.server())
                    .trailing_param(irc_time(entry.at)),
            );
        }
        lines.push(
            self.numeric(numeric::RPL_ENDOFWHOWAS)
                .param(irc::safe_param(nick))
                .trailing_param("End of WHOWAS"),
        );
        self.send_all(&lines);
    }
}
