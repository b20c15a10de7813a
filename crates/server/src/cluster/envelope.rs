//! What one node tells the others through Redis: an event, whom it is for,
//! and what to keep of it.
//!
//! The publish script (`scripts.rs`) prefixes the JSON body with the
//! route's sequence, the message id it handed out (0 for events that take
//! none) and the route's epoch: `"<seq> <id> <epoch> <json>"`. The same
//! text is published, appended to the route's stream and, for stored
//! messages, to the archive, so a node reads an entry the same way whichever
//! of the three it came from.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::event::EventKind;
use crate::hub::UserId;
use crate::store::StoredMessage;

/// Whom an entry is for, on the nodes that receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Recipients {
    /// The members of a room (by folded key) on every node.
    Room(String),
    /// One user, on the node whose inbox it was published to.
    User(UserId),
    /// Everyone sharing one of these rooms (keys) with `user`, once each.
    Sharing {
        /// Whose company.
        user: UserId,
        /// The rooms that count.
        rooms: Vec<String>,
    },
    /// Everyone on every node.
    Everyone,
}

/// One happening on its way between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The node it comes from.
    pub origin: String,
    /// Someone on the origin node who is not told (the sender, unless they
    /// want their own messages back).
    pub except: Option<UserId>,
    /// Whom it is for.
    pub to: Recipients,
    /// When it happened (ms since the epoch).
    pub ts: i64,
    /// What happened; a message's id is filled in from the entry's.
    pub kind: EventKind,
    /// What the archive keeps of it, if anything; its id likewise.
    pub stored: Option<StoredMessage>,
    /// The origin node delivered it to its own users when it happened
    /// (joins, parts and the like); messages are delivered everywhere,
    /// the origin too, in the order Redis gives.
    pub delivered_at_origin: bool,
    /// The room's modes and ranks after this (a mode change, a join that
    /// made the room, a kick): other nodes take them as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<SharedRoom>,
}

/// What every node keeps the same of a room besides its topic: its modes,
/// lists and operator accounts, and who is its operator or has voice now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedRoom {
    /// Its settings as stored (`RoomSettings::to_stored`).
    pub settings: String,
    /// Members who are its operators now, on any node.
    pub operators: Vec<UserId>,
    /// Members with voice now, on any node.
    pub voiced: Vec<UserId>,
}

impl Envelope {
    /// Something said on `node` (a message, a direct message, a TAGMSG, a
    /// topic change): every node it is for delivers it, `node` too, in the
    /// order Redis gives, with the id Redis gives; `except` (on `node`) is
    /// not told.
    pub fn said(
        node: &str,
        to: Recipients,
        except: Option<UserId>,
        kind: EventKind,
        stored: Option<StoredMessage>,
        ts: i64,
    ) -> Envelope {
        Envelope {
            origin: node.to_owned(),
            except,
            to,
            ts,
            kind,
            stored,
            delivered_at_origin: false,
            room: None,
        }
    }
}

/// An envelope as Redis ordered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its place in its route's order (from 1).
    pub seq: u64,
    /// The message id it was given (0: none).
    pub id: u64,
    /// The route's epoch: a new one means Redis lost the route's state and
    /// its sequence started again.
    pub epoch: String,
    /// What it carries, with its id filled in.
    pub envelope: Envelope,
}

/// An entry that cannot be read (another version's, or damaged).
#[derive(Debug, Error)]
pub enum EntryError {
    /// The `<seq> <id> <epoch> ` prefix is missing or not numbers.
    #[error("entry has no sequence, id and epoch in front")]
    Header,
    /// The body is not an envelope.
    #[error("entry body is not an envelope: {0}")]
    Body(#[from] serde_json::Error),
}

impl Entry {
    /// Reads an entry as the publish script wrote it, filling the message
    /// id into the event and the stored row.
    pub fn parse(text: &[u8]) -> Result<Entry, EntryError> {
        let mut parts = text.splitn(4, |&b| b == b' ');
        let mut number = || {
            parts
                .next()
                .and_then(|part| std::str::from_utf8(part).ok())
                .and_then(|part| part.parse::<u64>().ok())
        };
        let (Some(seq), Some(id)) = (number(), number()) else {
            return Err(EntryError::Header);
        };
        let epoch = parts
            .next()
            .and_then(|part| std::str::from_utf8(part).ok())
            .ok_or(EntryError::Header)?
            .to_owned();
        let body = parts.next().ok_or(EntryError::Header)?;
        let mut envelope: Envelope = serde_json::from_slice(body)?;
        if id != 0 {
            set_msg_id(&mut envelope.kind, id);
            if let Some(stored) = &mut envelope.stored {
                stored.id = id;
            }
        }
        Ok(Entry {
            seq,
            id,
            epoch,
            envelope,
        })
    }
}

/// Gives an event that carries a message id the one Redis handed out.
pub(super) fn set_msg_id(kind: &mut EventKind, id: u64) {
    match kind {
        EventKind::Message { msg_id, .. }
        | EventKind::Direct { msg_id, .. }
        | EventKind::TagMsg { msg_id, .. }
        | EventKind::Topic { msg_id, .. } => *msg_id = id,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::Person;

    fn person() -> Person {
        Person {
            id: 7,
            nick: "ann".into(),
            user: "ann".into(),
            host: Person::cloak(7),
            bot: false,
            account: None,
        }
    }

    fn body() -> String {
        let envelope = Envelope {
            origin: "a".into(),
            except: Some(7),
            to: Recipients::Room("lobby".into()),
            ts: 5,
            kind: EventKind::Message {
                msg_id: 0,
                ts: 5,
                room: "lobby".into(),
                from: person(),
                text: Arc::from("你好 hello"),
                action: false,
                notice: false,
                tags: None,
                lines: None,
            },
            stored: None,
            delivered_at_origin: false,
            room: None,
        };
        serde_json::to_string(&envelope).unwrap_or_default()
    }

    #[test]
    fn an_entry_takes_its_id_from_the_header() {
        let entry = Entry::parse(format!("3 41 e1 {}", body()).as_bytes());
        let Ok(entry) = entry else {
            panic!("not read: {entry:?}");
        };
        assert_eq!((entry.seq, entry.id, entry.epoch.as_str()), (3, 41, "e1"));
        assert!(matches!(
            entry.envelope.kind,
            EventKind::Message { msg_id: 41, .. }
        ));
    }

    #[test]
    fn damaged_entries_are_errors() {
        for text in [
            &b""[..],
            b"3",
            b"x 1 e {}",
            b"3 1 e",
            b"3 1 e {not json",
            b"3 1 \xff\xfe {}",
            b"3 1 e {}",
        ] {
            assert!(Entry::parse(text).is_err(), "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = Entry::parse(&bytes);
        }

        #[test]
        fn the_header_comes_back_as_written(seq in 1u64.., id in 0u64.., epoch in "[0-9a-f]{1,16}") {
            let entry = Entry::parse(format!("{seq} {id} {epoch} {}", body()).as_bytes());
            proptest::prop_assert!(
                matches!(&entry, Ok(e) if e.seq == seq && e.id == id && e.epoch == epoch),
                "{:?}", entry
            );
        }
    }
}
