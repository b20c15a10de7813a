//! Saying things: PRIVMSG and NOTICE to channels and nicknames (CTCP ACTION
//! is a `/me`), with the sender's client-only tags; TAGMSG, tags alone.

use chatroom_proto::irc::{self, channel, numeric};

use super::IrcSession;
use crate::hub::{HubError, Style, TagTo};

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
        let style = Style {
            action,
            notice,
            tags: self.client_tags.clone(),
        };
        for target in channel::split_list(targets).take(MAX_TARGETS) {
            let result = if channel::is_channel(target) {
                match channel::channel_to_room(target) {
                    Ok(room) => self.hub.say(client, Some(room), text, style.clone(), None),
                    Err(_) => Err(HubError::NoSuchRoom(target.to_owned())),
                }
            } else {
                self.hub
                    .direct(client, target, text, style.clone(), |_, _| None)
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
                Err(e) => self.not_sent(&e, target),
            }
        }
    }

    /// Tells the client why what it sent to `target` went nowhere: `404`
    /// outside a channel that takes messages only from members.
    fn not_sent(&self, error: &HubError, target: &str) {
        if let HubError::NotInRoom(_) = error {
            let m = self
                .numeric(numeric::ERR_CANNOTSENDTOCHAN)
                .param(irc::safe_param(target))
                .trailing_param("Cannot send to channel (you are not in it)");
            return self.send(&m);
        }
        self.hub_error(error, target);
    }

    /// `TAGMSG target` with client-only tags: relayed to clients that take
    /// tags (typing notifications, reactions), under a message's rules.
    pub(super) fn tagmsg(&self, target: &str) {
        let (Some(client), Some(tags)) = (&self.client, self.client_tags.clone()) else {
            return;
        };
        let to = if channel::is_channel(target) {
            match channel::channel_to_room(target) {
                Ok(room) => TagTo::Room(room),
                Err(_) => return self.hub_error(&HubError::NoSuchRoom(target.to_owned()), target),
            }
        } else {
            TagTo::User(target)
        };
        if let Err(e) = self.hub.tag_message(client, to, tags) {
            self.not_sent(&e, target);
        }
    }
}
