//! Channel moderation on IRC: MODE on a channel, INVITE and KICK, with
//! RFC 2812's numerics; the hub decides (`hub::moderation`), for IRC and
//! JSON users alike.

use chatroom_proto::irc::{self, Message, channel, numeric};
use chatroom_proto::modes::{self, List, ModeError};

use super::IrcSession;
use crate::hub::{HubError, MaskEntry};

impl IrcSession {
    /// `MODE #channel` shows its modes (and `329` when it was made);
    /// `MODE #channel b` its bans; `MODE #channel +o-v ann bob` changes
    /// them. The change is announced to the channel as a `MODE` line.
    pub(super) fn channel_mode(&self, target: &str, args: &[String]) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let Some(room) = self.room_of(target) else {
            return;
        };
        let Some((change, change_args)) = args.split_first() else {
            match self.hub.modes(&client, room) {
                Ok(modes) => {
                    let channel = channel::room_to_channel(&modes.room);
                    let mut m = self
                        .numeric(numeric::RPL_CHANNELMODEIS)
                        .param(&channel)
                        .param(&modes.modes);
                    for arg in &modes.args {
                        m = m.param(arg);
                    }
                    let created = self
                        .numeric(numeric::RPL_CREATIONTIME)
                        .param(&channel)
                        .param((modes.created / 1000).to_string());
                    self.send_all(&[m, created]);
                }
                Err(e) => self.hub_error(&e, target),
            }
            return;
        };
        let (changes, unreadable) = modes::parse(change, change_args);
        for error in unreadable {
            let m = match error {
                ModeError::Unknown(c) => self
                    .numeric(numeric::ERR_UNKNOWNMODE)
                    .param(c.to_string())
                    .trailing_param("is an unknown mode char to me"),
                ModeError::MissingArgument(c) => self
                    .numeric(numeric::ERR_NEEDMOREPARAMS)
                    .param("MODE")
                    .trailing_param(format!("Mode {c} needs a parameter")),
                // A key is never repeated back (it may be a secret
                // mistyped by one character).
                ModeError::BadArgument(c, ref arg) => self
                    .numeric(numeric::ERR_INVALIDMODEPARAM)
                    .param(irc::safe_param(target))
                    .param(c.to_string())
                    .param(if c == 'k' { "*" } else { irc::safe_param(arg) })
                    .trailing_param(format!("Invalid {c} parameter")),
            };
            self.send(&m);
        }
        if changes.is_empty() {
            return;
        }
        match self.hub.change_modes(&client, room, &changes) {
            Ok(outcome) => {
                let channel = channel::room_to_channel(&outcome.room);
                let mut lines = Vec::new();
                for (list, entries) in outcome.lists {
                    lines.extend(self.list_lines(&channel, list, &entries));
                }
                self.send_all(&lines);
                // Each refused change is answered as the hub's refusal
                // says (`441`, `401`, `478`), about its nickname.
                for (change, error) in &outcome.refused {
                    let subject = match change {
                        modes::Change::Rank(_, _, nick) => nick.as_str(),
                        _ => channel.as_str(),
                    };
                    self.hub_error(error, subject);
                }
            }
            Err(e) => self.hub_error(&e, target),
        }
    }

    /// A ban or exception list, then its end.
    fn list_lines(&self, channel: &str, list: List, entries: &[MaskEntry]) -> Vec<Message> {
        let (entry, end, what) = match list {
            List::Bans => (
                numeric::RPL_BANLIST,
                numeric::RPL_ENDOFBANLIST,
                "End of channel ban list",
            ),
            List::Exceptions => (
                numeric::RPL_EXCEPTLIST,
                numeric::RPL_ENDOFEXCEPTLIST,
                "End of channel exception list",
            ),
        };
        let mut lines: Vec<Message> = entries
            .iter()
            .map(|e| {
                self.numeric(entry)
                    .param(channel)
                    .param(&e.mask)
                    .param(irc::safe_param(&e.by))
                    .param((e.at / 1000).to_string())
            })
            .collect();
        lines.push(self.numeric(end).param(channel).trailing_param(what));
        lines
    }

    /// `INVITE nick #channel`: `341` to the inviter, an `INVITE` line to
    /// the invitee. A bare `INVITE` lists the channels one is invited to
    /// (`336`, then `337`).
    pub(super) fn invite(&self, nick: &str, target: &str) {
        let Some(client) = self.client.clone() else {
            return;
        };
        if nick.is_empty() {
            // A bare INVITE: the channels one is invited to.
            let mut lines: Vec<Message> = self
                .hub
                .invitations(&client)
                .iter()
                .map(|room| {
                    self.numeric(numeric::RPL_INVITELIST)
                        .param(channel::room_to_channel(room))
                })
                .collect();
            lines.push(
                self.numeric(numeric::RPL_ENDOFINVITELIST)
                    .trailing_param("End of /INVITE list"),
            );
            self.send_all(&lines);
            return;
        }
        if target.is_empty() {
            return self.need_more_params("INVITE");
        }
        let Some(room) = self.room_of(target) else {
            return;
        };
        match self.hub.invite(&client, room, nick) {
            Ok((room, invitee)) => {
                let m = self
                    .numeric(numeric::RPL_INVITING)
                    .param(&*invitee.nick)
                    .param(channel::room_to_channel(&room));
                self.send(&m);
            }
            Err(e @ HubError::NoSuchUser(_)) => self.hub_error(&e, nick),
            Err(e) => self.hub_error(&e, target),
        }
    }

    /// `KICK #channel nick[,nick] [:reason]`, for the channel's operators.
    pub(super) fn kick(&self, channels: &str, targets: &str, reason: Option<&str>) {
        let channels: Vec<&str> = channels.split(',').filter(|c| !c.is_empty()).collect();
        let targets: Vec<&str> = targets.split(',').filter(|t| !t.is_empty()).collect();
        // RFC 2812: one channel and any number of users, or as many
        // channels as users, paired in order.
        match channels.as_slice() {
            [channel] => self.kick_from(channel, &targets, reason),
            _ if channels.len() == targets.len() => {
                for (channel, target) in channels.iter().zip(&targets) {
                    self.kick_from(channel, std::slice::from_ref(target), reason);
                }
            }
            _ => self.need_more_params("KICK"),
        }
    }

    /// KICK of `targets` from one channel.
    fn kick_from(&self, channel_name: &str, targets: &[&str], reason: Option<&str>) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let Some(room) = self.room_of(channel_name) else {
            return;
        };
        let reason = reason.unwrap_or_else(|| self.nick.as_deref().unwrap_or("kicked"));
        for target in targets {
            match self.hub.kick(&client, room, target, reason) {
                Ok(()) => {}
                Err(e @ (HubError::NoSuchUser(_) | HubError::TheyAreNotInRoom(..))) => {
                    self.hub_error(&e, target);
                }
                Err(e) => {
                    self.hub_error(&e, channel_name);
                    return;
                }
            }
        }
    }
}
