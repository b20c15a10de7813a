//! `MONITOR` (IRCv3 monitor): a watch list of nicknames, and `730`/`731`
//! when they come and go. The hub keeps the lists and sends the
//! notifications (`hub::monitor`); this answers the command.

use chatroom_proto::irc::{self, Message, numeric};

use super::IrcSession;
use crate::hub::{MAX_WATCHED, Watched};

/// The most bytes of nicknames (or `nick!user@host`) in one `730`-`732`
/// line, leaving room for the source, the numeric and the addressee
/// within 512 bytes.
const LIST_BYTES: usize = 380;

impl IrcSession {
    /// `MONITOR + targets`, `- targets`, `C` (clear), `L` (list), `S`
    /// (status).
    pub(super) fn monitor(&self, subcommand: &str, targets: &str) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let targets = || targets.split(',').filter(|t| !t.is_empty());
        match subcommand {
            "+" if targets().next().is_none() => self.need_more_params("MONITOR"),
            "+" => {
                let added = self.hub.watch(&client, targets());
                let mut lines = self.states(&added.watched);
                for nick in &added.invalid {
                    lines.push(
                        self.numeric(numeric::ERR_ERRONEUSNICKNAME)
                            .param(irc::safe_param(nick))
                            .trailing_param("Erroneous nickname"),
                    );
                }
                if !added.refused.is_empty() {
                    lines.push(
                        self.numeric(numeric::ERR_MONLISTFULL)
                            .param(MAX_WATCHED.to_string())
                            .param(added.refused.join(","))
                            .trailing_param("Monitor list is full."),
                    );
                }
                self.send_all(&lines);
            }
            "-" => self.hub.unwatch(&client, targets()),
            "C" | "c" => self.hub.unwatch_all(&client),
            "L" | "l" => {
                let list = self.hub.watch_list(&client);
                let mut lines =
                    self.comma_lines(numeric::RPL_MONLIST, list.iter().map(|w| w.nick.clone()));
                lines.push(
                    self.numeric(numeric::RPL_ENDOFMONLIST)
                        .trailing_param("End of MONITOR list"),
                );
                self.send_all(&lines);
            }
            "S" | "s" => {
                let lines = self.states(&self.hub.watch_list(&client));
                self.send_all(&lines);
            }
            other => {
                let m = self
                    .numeric(numeric::ERR_UNKNOWNERROR)
                    .param("MONITOR")
                    .param(irc::safe_param(other))
                    .trailing_param("Unknown subcommand: use +, -, C, L or S");
                self.send(&m);
            }
        }
    }

    /// `730` for the watched nicknames someone has, `731` for the others.
    fn states(&self, watched: &[Watched]) -> Vec<Message> {
        let online = watched.iter().filter_map(|w| {
            w.online
                .as_ref()
                .map(|p| format!("{}!{}@{}", p.nick, p.user, p.host))
        });
        let offline = watched
            .iter()
            .filter(|w| w.online.is_none())
            .map(|w| w.nick.clone());
        let mut lines = self.comma_lines(numeric::RPL_MONONLINE, online);
        lines.extend(self.comma_lines(numeric::RPL_MONOFFLINE, offline));
        lines
    }

    /// `items`, comma-separated, in as few `n` lines as fit.
    fn comma_lines(&self, n: irc::Numeric, items: impl Iterator<Item = String>) -> Vec<Message> {
        let items: Vec<String> = items.collect();
        irc::pack_words(items.iter().map(String::as_str), LIST_BYTES, usize::MAX)
            .into_iter()
            .map(|group| self.numeric(n).trailing_param(group.join(",")))
            .collect()
    }
}
