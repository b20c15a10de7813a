//! The hub's answers in the JSON protocol's words: member lists, room
//! lists, ban lists, ban targets.

use chatroom_proto::json;

use crate::event::Person;
use crate::hub::{BanTarget, MaskEntry, RoomSummary, Standing};

/// Someone in a member list, with their standing in the room and their
/// away message if they are away.
pub fn member(person: &Person, standing: Standing, away: Option<&str>) -> json::MemberInfo {
    json::MemberInfo {
        id: person.id,
        nickname: person.nick.to_string(),
        operator: standing.operator,
        voice: standing.voice,
        away: away.map(str::to_owned),
    }
}

/// An entry of a ban or exception list.
pub fn mask_entry(entry: MaskEntry) -> json::MaskEntry {
    json::MaskEntry {
        mask: entry.mask,
        by: entry.by,
        at: entry.at,
    }
}

/// A room in a room list.
pub fn room(room: RoomSummary) -> json::RoomInfo {
    json::RoomInfo {
        name: room.name,
        members: u32::try_from(room.members).unwrap_or(u32::MAX),
        topic: room.topic,
    }
}

/// What a `ban` or `unban` request is about, as the hub says it.
pub fn ban_target(target: json::BanTarget) -> BanTarget {
    match target {
        json::BanTarget::Nickname(nick) => BanTarget::Nickname(nick),
        json::BanTarget::Ip(ip) => BanTarget::Address(ip),
    }
}
