//! What a room keeps across restarts besides its topic: its modes, the
//! accounts that operate it, its bans and exceptions. Stored as one JSON
//! value in the room's row (`store::StoredRoom::settings`).

use std::collections::BTreeSet;

use chatroom_proto::modes::{Flag, List};
use serde::{Deserialize, Serialize};

use super::masks::{Mask, Subject};

/// A room's moderation settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoomSettings {
    /// The flags that are on, by mode letter (`"nt"`).
    #[serde(default)]
    flags: String,
    /// The key joining needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The most members the room takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Accounts (folded nicknames) that are the room's operators whenever
    /// they join: the creator's, and any given operator status.
    #[serde(default)]
    pub operators: BTreeSet<String>,
    /// Who may not join or speak.
    #[serde(default)]
    pub bans: Vec<ListEntry>,
    /// Who the bans do not apply to.
    #[serde(default)]
    pub exceptions: Vec<ListEntry>,
    /// When the room was created (ms since the epoch; 0 if unknown).
    #[serde(default)]
    pub created: i64,
}

/// An entry of a ban or exception list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListEntry {
    /// The mask.
    #[serde(with = "mask_text")]
    pub mask: Mask,
    /// Who set it.
    pub by: String,
    /// When (ms since the epoch).
    pub at: i64,
}

/// Most entries a ban or exception list holds (ISUPPORT `MAXLIST`).
pub const MAX_LIST_ENTRIES: usize = 100;

impl RoomSettings {
    /// A new room's settings: `+nt` (the usual IRC defaults), created now.
    pub fn new_room(now: i64) -> RoomSettings {
        RoomSettings {
            flags: "nt".to_owned(),
            created: now,
            ..RoomSettings::default()
        }
    }

    /// A room that predates moderation (or the lobby): `+n` only, so that
    /// its members keep setting its topic as before.
    pub fn open(now: i64) -> RoomSettings {
        RoomSettings {
            flags: "n".to_owned(),
            created: now,
            ..RoomSettings::default()
        }
    }

    /// Settings read back from the store; `None` (or unreadable JSON,
    /// logged) is an open room.
    pub fn from_stored(room: &str, json: Option<&str>, now: i64) -> RoomSettings {
        match json.map(serde_json::from_str::<RoomSettings>) {
            Some(Ok(settings)) => settings,
            Some(Err(e)) => {
                tracing::warn!(room, error = %e, "a room's stored settings are unreadable; it starts open");
                RoomSettings::open(now)
            }
            None => RoomSettings::open(now),
        }
    }

    /// The settings as stored.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether `flag` is on.
    pub fn has(&self, flag: Flag) -> bool {
        self.flags.contains(flag.letter())
    }

    /// Turns `flag` on or off; false if it already was.
    pub fn set(&mut self, flag: Flag, on: bool) -> bool {
        if self.has(flag) == on {
            return false;
        }
        if on {
            self.flags.push(flag.letter());
        } else {
            self.flags.retain(|c| c != flag.letter());
        }
        true
    }

    /// The mode string (`+iklnt`), with the key and limit as arguments
    /// (the key only for `with_key`: members see it, others do not).
    pub fn mode_string(&self, with_key: bool) -> (String, Vec<String>) {
        let mut modes = String::from("+");
        let mut args = Vec::new();
        for flag in Flag::ALL {
            if self.has(flag) {
                modes.push(flag.letter());
            }
        }
        if let Some(key) = &self.key {
            modes.push('k');
            args.push(if with_key { key.clone() } else { "*".into() });
        }
        if let Some(limit) = self.limit {
            modes.push('l');
            args.push(limit.to_string());
        }
        (modes, args)
    }

    /// The entries of `list`.
    pub fn list(&self, list: List) -> &[ListEntry] {
        match list {
            List::Bans => &self.bans,
            List::Exceptions => &self.exceptions,
        }
    }

    /// The entries of `list`, to change.
    pub fn list_mut(&mut self, list: List) -> &mut Vec<ListEntry> {
        match list {
            List::Bans => &mut self.bans,
            List::Exceptions => &mut self.exceptions,
        }
    }

    /// Whether `who` is banned: a ban matches and no exception does.
    pub fn bans_out(&self, who: &Subject<'_>) -> bool {
        self.bans.iter().any(|b| b.mask.matches(who))
            && !self.exceptions.iter().any(|e| e.mask.matches(who))
    }
}

/// A mask is stored as its text.
mod mask_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Mask;

    pub fn serialize<S: Serializer>(mask: &Mask, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(mask.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Mask, D::Error> {
        Ok(Mask::stored(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_their_stored_form() {
        let mut s = RoomSettings::new_room(5);
        s.set(Flag::Moderated, true);
        s.key = Some("pw".into());
        s.limit = Some(9);
        s.operators.insert("ann".into());
        s.bans.push(ListEntry {
            mask: Mask::new("troll"),
            by: "ann".into(),
            at: 6,
        });
        let back = RoomSettings::from_stored("r", Some(&s.to_stored()), 0);
        assert_eq!(
            back.mode_string(true),
            ("+mntkl".into(), vec!["pw".into(), "9".into()])
        );
        assert_eq!(back.mode_string(false).1, vec!["*".to_owned(), "9".into()]);
        assert_eq!(back.operators, s.operators);
        assert_eq!(back.bans[0].mask.as_str(), "troll!*@*");
        assert_eq!(back.created, 5);
    }

    #[test]
    fn bans_stored_on_old_cloaks_are_read_on_todays() {
        let stored = r#"{"flags":"nt","bans":[{"mask":"*!*@user/7","by":"ann","at":1}]}"#;
        let s = RoomSettings::from_stored("r", Some(stored), 0);
        assert_eq!(s.bans[0].mask.as_str(), "*!*@user-7.chatroom");
    }

    #[test]
    fn unreadable_settings_leave_the_room_open() {
        let s = RoomSettings::from_stored("r", Some("{not json"), 3);
        assert_eq!(s.mode_string(true).0, "+n");
        assert_eq!(
            RoomSettings::from_stored("r", None, 3).mode_string(true).0,
            "+n"
        );
    }

    #[test]
    fn flags_turn_on_once() {
        let mut s = RoomSettings::open(0);
        assert!(!s.set(Flag::NoOutside, true));
        assert!(s.set(Flag::Secret, true));
        assert!(s.set(Flag::NoOutside, false));
        assert_eq!(s.mode_string(true).0, "+s");
    }
}
