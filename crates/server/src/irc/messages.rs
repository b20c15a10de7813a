//! Saying things: PRIVMSG and NOTICE to channels and nicknames (CTCP ACTION
//! is a `/me`).

use chatroom_proto::irc::{self, channel, numeric};

use super::IrcSession;
use crate::hub::{HubError, Style};

/// The most targets one PRIVMSG or NOTICE may name (`TARGMAX`).
const MAX_TARGETS: usize = 4;

impl IrcSession {
    /// `PRIVMSG targets :text`, or `NOTICE` (whose errors are never
    /// answered: RFC 2812 section 3.3.2).
    pub(super) fn privmsg(&self, targets: &str, text: &str, notice: bool) {
        let Some(client) = &self.client else { return };
        let (text, action) = match text
            .strip_prefix("\u{1}ACTION ")
            .or_else(|| text.strip_prefix("\u{1}ACTION"))
        {
            Some(rest) => (rest.strip_suffix('\u{1}').unwrap_or(rest), true),
            None => (text, false),
        };
        let style = Style { action, notice };
        for target in channel::split_list(targets).take(MAX_TARGETS) {
            let result = if channel::is_channel(target) {
                match channel::channel_to_room(target) {
                    Ok(room) => self.hub.say(client, Some(room), text, style, None),
                    Err(_) => Err(HubError::NoSuchRoom(target.to_owned())),
                }
            } else {
                self.hub.direct(client, target, text, style, |_, _| None)
            };
            match result {
                Ok(posted) => {
                    if let (Some(away), false) = (posted.away, notice) {
                        let m = self
                            .numeric(numeric::RPL_AWAY)
                            .param(irc::safe_param(target))
                            .trailing_param(away);
                        self.send(&m);
                    }
                }
                Err(_) if notice => {}
                Err(HubError::NotInRoom(_)) => {
                    let m = self
                        .numeric(numeric::ERR_CANNOTSENDTOCHAN)
                        .param(irc::safe_param(target))
                        .trailing_param("Cannot send to channel (you are not in it)");
                    self.send(&m);
                }
                Err(e) => self.hub_error(&e, target),
            }
        }
    }
}
