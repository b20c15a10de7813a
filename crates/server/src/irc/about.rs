//! Queries about the server itself: VERSION, INFO, TIME, ADMIN, LINKS.

use chatroom_proto::irc::{Message, numeric};

use super::events::irc_time;
use super::{IrcSession, VERSION};
use crate::clock::now_ms;

impl IrcSession {
    /// `VERSION`.
    pub(super) fn version(&self) {
        let m = self
            .numeric(numeric::RPL_VERSION)
            .param(VERSION)
            .param(self.server())
            .trailing_param(&*self.settings.description);
        self.send(&m);
    }

    /// `INFO`: `371` lines about the server software, then `374`.
    pub(super) fn info(&self) {
        let mut lines: Vec<Message> = [
            VERSION,
            &self.settings.description,
            "IRC: RFC 1459/2812 and IRCv3, beside a JSON protocol, on one hub",
        ]
        .into_iter()
        .map(|line| self.numeric(numeric::RPL_INFO).trailing_param(line))
        .collect();
        lines.push(
            self.numeric(numeric::RPL_INFO)
                .trailing_param(format!("Up since {}", irc_time(self.settings.started))),
        );
        lines.push(
            self.numeric(numeric::RPL_ENDOFINFO)
                .trailing_param("End of /INFO list"),
        );
        self.send_all(&lines);
    }

    /// `TIME`.
    pub(super) fn time(&self) {
        let m = self
            .numeric(numeric::RPL_TIME)
            .param(self.server())
            .trailing_param(irc_time(now_ms()));
        self.send(&m);
    }

    /// `ADMIN`: `256`, where the server runs (`257`), what it is (`258`),
    /// and how to reach its administrators (`259`, from `admin_contact`).
    pub(super) fn admin(&self) {
        let contact = self
            .settings
            .admin_contact
            .as_deref()
            .unwrap_or("The administrators have not published a contact");
        let lines = [
            self.numeric(numeric::RPL_ADMINME)
                .param(self.server())
                .trailing_param("Administrative info"),
            self.numeric(numeric::RPL_ADMINLOC1)
                .trailing_param(format!("Server {}", self.server())),
            self.numeric(numeric::RPL_ADMINLOC2).trailing_param(format!(
                "{VERSION}, up since {}",
                irc_time(self.settings.started)
            )),
            self.numeric(numeric::RPL_ADMINEMAIL)
                .trailing_param(contact),
        ];
        self.send_all(&lines);
    }

    /// `LINKS`: this server is the whole network (`364`, then `365`).
    pub(super) fn links(&self) {
        let lines = [
            self.numeric(numeric::RPL_LINKS)
                .param(self.server())
                .param(self.server())
                .trailing_param(format!("0 {}", self.settings.description)),
            self.numeric(numeric::RPL_ENDOFLINKS)
                .param("*")
                .trailing_param("End of /LINKS list"),
        ];
        self.send_all(&lines);
    }
}
