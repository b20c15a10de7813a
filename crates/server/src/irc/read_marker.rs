//! IRCv3 `draft/read-marker`: `MARKREAD <target> [timestamp=...]` reads or
//! moves the user's read marker for a channel or a nickname (see
//! `crate::read_markers` for where markers live), and a client that took
//! the capability is told its channel's marker after every JOIN, before
//! the end of the names.

use chatroom_proto::irc::{Message, Source, channel};
use tracing::warn;

use super::IrcSession;
use super::events::irc_time;
use crate::event::MarkerTarget;
use crate::read_markers::{self, MarkError};

/// Reads a client's `timestamp=YYYY-MM-DDThh:mm:ss.sssZ` (any RFC 3339
/// time, as `server-time` writes them) in ms since the epoch. `*`, a time
/// without the `timestamp=` prefix, and times before 1970 are refused.
pub fn parse_timestamp(param: &str) -> Option<i64> {
    let stamp = param.strip_prefix("timestamp=")?;
    let ms = chrono::DateTime::parse_from_rfc3339(stamp)
        .ok()?
        .timestamp_millis();
    (ms >= 0).then_some(ms)
}

/// The `MARKREAD <target> <timestamp=...|*>` line about `target` (a channel
/// or a nickname) from `server`.
pub fn markread_line(server: &str, target: &MarkerTarget, ts: Option<i64>) -> Message {
    let target = match target {
        MarkerTarget::Room(name) => channel::room_to_channel(name),
        MarkerTarget::Nick(nick) => nick.to_string(),
    };
    Message::new("MARKREAD")
        .with_source(Source::server(server))
        .param(target)
        .param(ts.map_or_else(
            || "*".to_owned(),
            |ts| format!("timestamp={}", irc_time(ts)),
        ))
}

/// The marker target a `MARKREAD` names: a channel, or a nickname.
fn target_of(name: &str) -> Result<MarkerTarget, MarkError> {
    if channel::is_channel(name) {
        let room = channel::channel_to_room(name).map_err(|_| MarkError::BadTarget)?;
        read_markers::room_target(room)
    } else {
        read_markers::nick_target(name)
    }
}

impl IrcSession {
    /// `MARKREAD <target>` asks where the marker stands; `MARKREAD <target>
    /// timestamp=...` moves it forward (and tells the account's other
    /// sessions). Either way the answer is where it stands.
    pub(super) async fn markread(&mut self, args: &[String]) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let Some(name) = args.first().filter(|a| !a.is_empty()) else {
            return self.markread_fail("NEED_MORE_PARAMS", None, "Missing parameters");
        };
        let target = match target_of(name) {
            Ok(target) => target,
            Err(_) => {
                return self.markread_fail(
                    "INVALID_PARAMS",
                    Some(name),
                    "Not a channel or nickname",
                );
            }
        };
        let answer = match args.get(1) {
            None => self.markers.get(&self.hub, &client, &target).await,
            Some(stamp) => match parse_timestamp(stamp) {
                Some(ts) => self
                    .markers
                    .set(&self.hub, &client, target.clone(), ts)
                    .await
                    .map(Some),
                None => {
                    return self.markread_fail(
                        "INVALID_PARAMS",
                        Some(stamp),
                        "The timestamp must be timestamp=YYYY-MM-DDThh:mm:ss.sssZ",
                    );
                }
            },
        };
        match answer {
            Ok(ts) => {
                let m = markread_line(self.server(), &target, ts);
                self.send(&m);
            }
            Err(MarkError::TooMany) => self.markread_fail(
                "INTERNAL_ERROR",
                Some(name),
                "Too many read markers: the read timestamp could not be set",
            ),
            Err(e) => {
                warn!(peer = %self.peer, error = %e, "read marker failed");
                self.markread_fail(
                    "INTERNAL_ERROR",
                    Some(name),
                    "The read timestamp could not be set",
                );
            }
        }
    }

    /// The `MARKREAD` line sent after joining `room` (to a client that took
    /// `draft/read-marker`; `None` for others, or if the store failed).
    pub(super) async fn join_markread(&self, room: &str) -> Option<Message> {
        if !self.caps.has(super::caps::READ_MARKER) {
            return None;
        }
        let client = self.client.clone()?;
        let target = read_markers::room_target(room).ok()?;
        match self.markers.get(&self.hub, &client, &target).await {
            Ok(ts) => Some(markread_line(self.server(), &target, ts)),
            Err(e) => {
                warn!(peer = %self.peer, error = %e, "read marker unavailable on join");
                None
            }
        }
    }

    /// `FAIL MARKREAD <code> [<param>] :<text>`.
    fn markread_fail(&self, code: &str, param: Option<&str>, text: &str) {
        self.send(&self.fail("MARKREAD", code, param, text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_server_time_and_not_before_1970() {
        assert_eq!(
            parse_timestamp("timestamp=2019-01-04T14:33:26.123Z"),
            Some(1_546_612_406_123)
        );
        assert_eq!(
            parse_timestamp("timestamp=1970-01-01T00:00:01+00:00"),
            Some(1000)
        );
        assert_eq!(parse_timestamp("*"), None);
        assert_eq!(parse_timestamp("2019-01-04T14:33:26.123Z"), None);
        assert_eq!(parse_timestamp("timestamp=not-a-timestamp"), None);
        assert_eq!(parse_timestamp("timestamp="), None);
        assert_eq!(parse_timestamp("timestamp=1969-12-31T23:59:59.000Z"), None);
        assert_eq!(parse_timestamp("timestamp=2019-13-04T14:33:26.123Z"), None);
    }

    #[test]
    fn the_line_names_a_channel_or_a_nickname_and_a_time_or_star() {
        let room = MarkerTarget::Room("rust".into());
        assert_eq!(
            markread_line("srv", &room, Some(1_546_612_406_123)).encode(),
            b":srv MARKREAD #rust timestamp=2019-01-04T14:33:26.123Z\r\n"
        );
        let bob = MarkerTarget::Nick("bob".into());
        assert_eq!(
            markread_line("srv", &bob, None).encode(),
            b":srv MARKREAD bob *\r\n"
        );
    }
}
