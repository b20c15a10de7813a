//! What the hub's refusals are called on IRC: RFC 1459/2812 numerics.

use chatroom_proto::irc::{self, Message, channel, numeric};

use super::IrcSession;
use crate::hub::HubError;

impl IrcSession {
    /// Tells the client about a refusal of the hub about `target`.
    pub(super) fn hub_error(&self, error: &HubError, target: &str) {
        if let Some(m) = self.hub_error_line(error, target) {
            self.send(&m);
        }
    }

    /// The numeric for a refusal (none for those IRC leaves unanswered).
    fn hub_error_line(&self, error: &HubError, target: &str) -> Option<Message> {
        let target = irc::safe_param(target);
        let with = |n, text: String| self.numeric(n).param(target).trailing_param(text);
        let plain = |n, text: String| self.numeric(n).trailing_param(text);
        Some(match error {
            HubError::BadNick(e) => with(
                numeric::ERR_ERRONEUSNICKNAME,
                format!("Erroneous nickname: {e}"),
            ),
            HubError::NickTaken(_) => with(
                numeric::ERR_NICKNAMEINUSE,
                "Nickname is already in use".into(),
            ),
            HubError::LooksLike(_) => with(
                numeric::ERR_NICKNAMEINUSE,
                "Nickname looks too much like one already in use".into(),
            ),
            HubError::AccountRequired(_) => with(numeric::ERR_NICKNAMEINUSE, error.to_string()),
            HubError::BadRoom(e) => {
                self.no_such_channel(target, &format!("Illegal channel name: {e}"))
            }
            HubError::NoSuchRoom(_) => self.no_such_channel(target, "No such channel"),
            HubError::NotInRoom(_) => with(
                numeric::ERR_NOTONCHANNEL,
                "You're not on that channel".into(),
            ),
            // Joining a channel one is in is silently ignored, as on IRC;
            // a session that is leaving has nobody to tell.
            HubError::AlreadyInRoom(_) | HubError::Gone => return None,
            HubError::NoSuchUser(_) => with(numeric::ERR_NOSUCHNICK, "No such nick/channel".into()),
            HubError::TopicTooLong => self
                .numeric(numeric::ERR_NEEDMOREPARAMS)
                .param("TOPIC")
                .trailing_param(error.to_string()),
            // IRC arrivals never set `password_given`; answered like a
            // password that does not fit, should one ever do.
            HubError::NoAccount(_) => plain(numeric::ERR_PASSWDMISMATCH, error.to_string()),
            HubError::TooManyRooms(_) => with(
                numeric::ERR_TOOMANYCHANNELS,
                "You have joined too many channels".into(),
            ),
            HubError::MessageTooLong(_) => plain(numeric::ERR_INPUTTOOLONG, error.to_string()),
            HubError::NotOperator => plain(
                numeric::ERR_NOPRIVILEGES,
                "Permission Denied- You're not an IRC operator".into(),
            ),
            HubError::Banned(_) => plain(numeric::ERR_YOUREBANNEDCREEP, error.to_string()),
            HubError::TooManyNewRooms | HubError::ClusterDown(_) => {
                with(numeric::ERR_UNAVAILRESOURCE, error.to_string())
            }
            HubError::NotRoomOperator(_) => with(
                numeric::ERR_CHANOPRIVSNEEDED,
                "You're not a channel operator".into(),
            ),
            HubError::CannotSend(_, why) => with(
                numeric::ERR_CANNOTSENDTOCHAN,
                format!("Cannot send to channel: {why}"),
            ),
            HubError::BannedFromRoom(_) => with(
                numeric::ERR_BANNEDFROMCHAN,
                "Cannot join channel (+b)".into(),
            ),
            HubError::InviteOnly(_) => with(
                numeric::ERR_INVITEONLYCHAN,
                "Cannot join channel (+i)".into(),
            ),
            HubError::BadKey(_) => with(
                numeric::ERR_BADCHANNELKEY,
                "Cannot join channel (+k)".into(),
            ),
            HubError::RoomFull(_) => with(
                numeric::ERR_CHANNELISFULL,
                "Cannot join channel (+l)".into(),
            ),
            // These name a person and a channel, or a channel and a list:
            // both come from the refusal itself.
            HubError::TheyAreNotInRoom(nick, room) => self
                .numeric(numeric::ERR_USERNOTINCHANNEL)
                .param(irc::safe_param(nick))
                .param(channel::room_to_channel(room))
                .trailing_param("They aren't on that channel"),
            HubError::TheyAreInRoom(nick, room) => self
                .numeric(numeric::ERR_USERONCHANNEL)
                .param(irc::safe_param(nick))
                .param(channel::room_to_channel(room))
                .trailing_param("is already on channel"),
            HubError::ListFull(room, list) => self
                .numeric(numeric::ERR_BANLISTFULL)
                .param(channel::room_to_channel(room))
                .param(list.to_string())
                .trailing_param("Channel list is full"),
        })
    }
}
