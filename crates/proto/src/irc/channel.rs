//! Channel names, room names and comma-separated target lists.
//!
//! **Mapping.** A room `lobby` is the channel `#lobby`, and back: the room
//! name is the channel name without its one leading `#`, letters kept as
//! typed (rooms compare case-insensitively on their own side). `#` is the
//! only channel type the server offers (`CHANTYPES=#` in ISUPPORT):
//! - `&name`, `+name` and `!name` are other servers' channel types; they
//!   name no room here ([`ChannelError::UnsupportedPrefix`], answered with
//!   `403 ERR_NOSUCHCHANNEL`) rather than being quietly mapped onto a `#`
//!   room, which would make two spellings of one room;
//! - a name without a prefix is not a channel ([`ChannelError::NotAChannel`]):
//!   in `PRIVMSG` that is a nickname, so guessing "you meant `#lobby`" would
//!   make `PRIVMSG lobby` mean two things.
//!
//! The mapping is purely syntactic: whether the room name itself is
//! acceptable (length, characters) is for the room rules to say.

use thiserror::Error;

/// The one channel prefix the server offers.
pub const CHANNEL_PREFIX: char = '#';

/// Why a target is not a channel of ours; answered with `403 ERR_NOSUCHCHANNEL`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChannelError {
    /// Just `#`.
    #[error("a channel name needs a name after the '#'")]
    Empty,
    /// No channel prefix at all.
    #[error("channel names start with '#'")]
    NotAChannel,
    /// Another server's channel type (`&`, `+`, `!`).
    #[error("only '#' channels exist here, not {0:?}")]
    UnsupportedPrefix(char),
}

/// Whether an IRC target (a `PRIVMSG` recipient, say) names a channel
/// rather than a user.
pub fn is_channel(target: &str) -> bool {
    target.starts_with(CHANNEL_PREFIX)
}

/// The room a channel name stands for: `#lobby` → `lobby`.
pub fn channel_to_room(channel: &str) -> Result<&str, ChannelError> {
    match channel.chars().next() {
        Some(CHANNEL_PREFIX) => {
            let room = &channel[CHANNEL_PREFIX.len_utf8()..];
            if room.is_empty() {
                Err(ChannelError::Empty)
            } else {
                Ok(room)
            }
        }
        Some(prefix @ ('&' | '+' | '!')) => Err(ChannelError::UnsupportedPrefix(prefix)),
        _ => Err(ChannelError::NotAChannel),
    }
}

/// The channel name of a room: `lobby` → `#lobby`.
pub fn room_to_channel(room: &str) -> String {
    let mut channel = String::with_capacity(room.len() + 1);
    channel.push(CHANNEL_PREFIX);
    channel.push_str(room);
    channel
}

/// The items of a comma-separated list (`#a,#b`), skipping empty ones
/// (`#a,,#b` is two channels, not three).
pub fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').filter(|item| !item.is_empty())
}

/// Pairs `JOIN`'s channels with their keys by position: `JOIN #a,#b,#c k1,,k3`
/// gives `#a` the key `k1`, `#b` none and `#c` `k3`. Empty channel items are
/// skipped without shifting the keys of the others.
pub fn join_targets<'a>(
    channels: &'a str,
    keys: Option<&'a str>,
) -> Vec<(&'a str, Option<&'a str>)> {
    let mut keys = keys.unwrap_or_default().split(',');
    channels
        .split(',')
        .map(|channel| (channel, keys.next().filter(|k| !k.is_empty())))
        .filter(|(channel, _)| !channel.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_and_channels_map_both_ways() {
        assert_eq!(channel_to_room("#lobby"), Ok("lobby"));
        assert_eq!(channel_to_room("#Rust-Lang"), Ok("Rust-Lang"));
        assert_eq!(channel_to_room("#大厅"), Ok("大厅"));
        assert_eq!(room_to_channel("lobby"), "#lobby");
        assert_eq!(room_to_channel("大厅"), "#大厅");
        for room in ["lobby", "a", "房间", "x.y-z"] {
            assert_eq!(channel_to_room(&room_to_channel(room)), Ok(room));
        }
        // Only one `#` is the prefix; the room rules refuse the rest.
        assert_eq!(channel_to_room("##ops"), Ok("#ops"));
    }

    #[test]
    fn other_prefixes_and_bare_names_are_not_rooms() {
        assert_eq!(channel_to_room("#"), Err(ChannelError::Empty));
        assert_eq!(
            channel_to_room("&local"),
            Err(ChannelError::UnsupportedPrefix('&'))
        );
        assert_eq!(
            channel_to_room("+modeless"),
            Err(ChannelError::UnsupportedPrefix('+'))
        );
        assert_eq!(
            channel_to_room("!12345safe"),
            Err(ChannelError::UnsupportedPrefix('!'))
        );
        assert_eq!(channel_to_room("lobby"), Err(ChannelError::NotAChannel));
        assert_eq!(channel_to_room(""), Err(ChannelError::NotAChannel));
        assert!(is_channel("#lobby"));
        assert!(!is_channel("bob"));
        assert!(!is_channel("&local"));
    }

    #[test]
    fn comma_lists() {
        assert_eq!(split_list("#a,#b").collect::<Vec<_>>(), ["#a", "#b"]);
        assert_eq!(split_list(",#a,,#b,").collect::<Vec<_>>(), ["#a", "#b"]);
        assert_eq!(split_list("").count(), 0);
        assert_eq!(split_list("bob").collect::<Vec<_>>(), ["bob"]);
    }

    #[test]
    fn join_keys_pair_by_position() {
        assert_eq!(
            join_targets("#a,#b", Some("key1,key2")),
            [("#a", Some("key1")), ("#b", Some("key2"))]
        );
        assert_eq!(
            join_targets("#a,#b,#c", Some("k1,,k3")),
            [("#a", Some("k1")), ("#b", None), ("#c", Some("k3"))]
        );
        assert_eq!(
            join_targets("#a,,#c", Some("k1,k2,k3")),
            [("#a", Some("k1")), ("#c", Some("k3"))]
        );
        assert_eq!(join_targets("#a,#b", None), [("#a", None), ("#b", None)]);
        assert_eq!(join_targets("#a", Some("k1,k2")), [("#a", Some("k1"))]);
    }
}
