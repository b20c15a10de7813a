//! Saying things: PRIVMSG and NOTICE to channels and nicknames (CTCP ACTION
//! is a `/me`), with the sender's client-only tags; TAGMSG, tags alone.

use chatroom_proto::irc::{self, Message, Source, channel, numeric};

use bytes::Bytes;

use super::IrcSession;
use super::replies::encode_fitted;
use super::replies::user_name;
use crate::event::Person;
use crate::hub::{Client, HubError, Style, TagTo};
use crate::store::{Failure, Outcome, Receipt};

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
            lines: None,
        };
        let command = if notice { "NOTICE" } else { "PRIVMSG" };
        for target in channel::split_list(targets).take(MAX_TARGETS) {
            let text = self.fitted(client.id, command, target, text, action);
            self.deliver(client, target, text, style.clone());
        }
    }

    /// Sends `text` to one channel or nickname and tells the client what
    /// came of it: `301` for an away recipient, the refusal otherwise
    /// (never for a NOTICE).
    pub(super) fn deliver(&self, client: &Client, target: &str, text: &str, style: Style) {
        let notice = style.notice;
        let result = if channel::is_channel(target) {
            match channel::channel_to_room(target) {
                Ok(room) => {
                    let receipt = self.cluster_receipt(target, notice);
                    self.hub.say(client, Some(room), text, style, receipt)
                }
                Err(_) => Err(HubError::NoSuchRoom(target.to_owned())),
            }
        } else {
            self.hub.direct(client, target, text, style, |_, _| {
                self.cluster_receipt(target, notice)
            })
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

    /// In a cluster, where a message's fate is known only once Redis
    /// answered: what tells the client it went nowhere (`401` for a
    /// nickname no node has, `FAIL` when Redis did not take it; never for
    /// a NOTICE). On a single node, nothing: refusals come at once.
    fn cluster_receipt(&self, target: &str, notice: bool) -> Option<Receipt> {
        if notice || self.hub.cluster().is_none() {
            return None;
        }
        let line = |m: Message| {
            let mut out = Vec::new();
            encode_fitted(&m, &mut out);
            Bytes::from(out)
        };
        let no_such = line(
            self.numeric(numeric::ERR_NOSUCHNICK)
                .param(irc::safe_param(target))
                .trailing_param("No such nick/channel"),
        );
        let not_sent = line(self.fail(
            "PRIVMSG",
            "TEMPORARILY_UNAVAILABLE",
            Some(target),
            "Not sent: the cluster is unreachable; try again",
        ));
        let outbox = self.outbox.clone();
        Some(Box::new(move |outcome: Outcome<'_>| match outcome.error {
            Some(Failure::NoSuchUser(_)) => {
                outbox.push_reply(no_such);
            }
            Some(Failure::NotSent(_)) => {
                outbox.push_reply(not_sent);
            }
            _ => {}
        }))
    }

    /// `text` as it fits in one relayed line to `target`. The relay
    /// carries the sender's `nick!user@host`, which the client's own line
    /// did not, so a text that fitted in the client's line may not fit in
    /// the relayed one: it is cut at a character boundary, as IRC servers
    /// do, rather than sent on as a second line the sender never wrote.
    fn fitted<'t>(
        &self,
        id: u64,
        command: &str,
        target: &str,
        text: &'t str,
        action: bool,
    ) -> &'t str {
        // The shortest text that can overflow is longer than this: a line
        // from a client holds 510 bytes, and a source takes under 200.
        if text.len() < 300 {
            return text;
        }
        // The sender as others see them (an operator may have changed the
        // host).
        let source = match self.client.as_deref().and_then(|c| self.hub.person(c)) {
            Some(me) => super::events::source(&me),
            None => {
                let (Some(nick), Some((user, _))) = (&self.nick, &self.user) else {
                    return text;
                };
                Source::user(nick, user_name(user, nick), &*Person::cloak(id))
            }
        };
        let template = Message::new(command).with_source(source).param(target);
        // `/me` adds "\x01ACTION " and a closing "\x01".
        let overhead = if action { 9 } else { 0 };
        let budget = irc::text_budget(&template).saturating_sub(overhead).max(1);
        irc::split_text(text, budget)
            .first()
            .copied()
            .unwrap_or(text)
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
