//! The list of one user's conversations, each with its latest message: the
//! people they exchanged direct messages with and, when asked, the rooms
//! they are in (the JSON `conversations` request, IRC's
//! `CHATHISTORY TARGETS`).
//!
//! The rules of whose messages these are come from `search` (a [`Reader`]:
//! the rooms they are in now, the direct messages of their session and of
//! their account). A conversation is in a time window when its *latest*
//! message is: one whose latest message is later than the window is left
//! out even if it has messages inside it (as `draft/chathistory` says of
//! `TARGETS`).
//!
//! What it costs, with no B-tree index on `messages` (see `index`): a room
//! is one lookup of the newest entry of its room term in the message
//! index, read newest first and stopped at the first row, so its cost does
//! not grow with the room's history (a user is in at most a few dozen
//! rooms). The people are one pass over the reader's own direct messages
//! (their user and account terms), grouped by the other person: it grows
//! with how many direct messages the reader has, never with the rest of the
//! store, as the direct-message history and search already do. No index is
//! added for it.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::index::{any_of, quoted, room_term};
use super::search::{FOLD_FUNCTION, Identity, Reader, from_sql_int, oldest_kept};
use super::{Retention, StoreError};
use crate::clock::now_ms;

/// Whom a conversation is with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counterpart {
    /// A room the reader is in.
    Room {
        /// Its folded key.
        key: String,
        /// Its name, as in its latest message.
        name: String,
    },
    /// Someone the reader exchanged direct messages with, by their
    /// nickname in the latest message.
    Person(String),
}

/// One conversation and its latest message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Whom it is with.
    pub with: Counterpart,
    /// The latest message's id.
    pub msg_id: u64,
    /// Its timestamp (ms since the epoch).
    pub ts: i64,
}

/// Which of a reader's conversations to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationQuery {
    /// Whose conversations.
    pub reader: Reader,
    /// Only those whose latest message is later than this (ms since the
    /// epoch).
    pub after_ts: Option<i64>,
    /// Only those whose latest message is earlier than this.
    pub before_ts: Option<i64>,
    /// The rooms the reader is in as well, not only direct messages.
    pub rooms: bool,
    /// How many at most.
    pub limit: u32,
    /// Keep the `limit` oldest of the window rather than the newest.
    pub from_after: bool,
}

/// The reader's conversations whose latest message falls in the query's
/// window, the most recent first: the `limit` newest, or with
/// `from_after` the `limit` oldest.
pub fn conversations(
    conn: &Connection,
    retention: &Retention,
    query: &ConversationQuery,
) -> Result<Vec<Peer>, StoreError> {
    let after = query.after_ts.unwrap_or(i64::MIN);
    let before = query.before_ts.unwrap_or(i64::MAX);
    let now = now_ms();
    let mut found = people(conn, retention, query, now)?;
    if query.rooms {
        for key in &query.reader.rooms {
            if let Some(peer) = latest_in_room(conn, retention, key, now)?
                && peer.ts > after
                && peer.ts < before
            {
                found.push(peer);
            }
        }
    }
    found.sort_by_key(|peer| std::cmp::Reverse((peer.ts, peer.msg_id)));
    let limit = query.limit as usize;
    if query.from_after {
        found.drain(..found.len().saturating_sub(limit));
    } else {
        found.truncate(limit);
    }
    Ok(found)
}

/// The people of the reader's direct messages whose latest message falls
/// in the window, at most `limit` from the wanted end, most recent first.
fn people(
    conn: &Connection,
    retention: &Retention,
    query: &ConversationQuery,
    now: i64,
) -> Result<Vec<Peer>, StoreError> {
    let identity = Identity::of(conn, &query.reader)?;
    let sent = identity.is("sender");
    let scope = identity.direct(None);
    // SQLite takes the other columns of a MAX() aggregate from the row
    // that has the maximum: the latest message with each person. Messages
    // before the window can be left out before grouping (a person whose
    // latest message is in the window has it among the later ones); later
    // ones cannot, since a later message puts its person out of the window.
    let order = if query.from_after { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT peer, id, ts FROM ( \
             SELECT CASE WHEN {} THEN m.recipient_nick ELSE m.sender_nick END AS peer, \
                    MAX(m.id) AS id, m.ts AS ts \
             FROM message_index f JOIN messages m ON m.id = f.rowid \
             WHERE message_index MATCH ? AND {} AND m.ts >= ? AND m.ts > ? \
             GROUP BY {FOLD_FUNCTION}(peer)) \
         WHERE ts < ? ORDER BY ts {order}, id {order} LIMIT ?",
        sent.sql, scope.sql
    );
    let mut values = sent.values;
    values.push(Value::Text(any_of(&identity.terms())));
    values.extend(scope.values);
    values.push(Value::Integer(
        oldest_kept(retention, None, now).unwrap_or(i64::MIN),
    ));
    values.push(Value::Integer(query.after_ts.unwrap_or(i64::MIN)));
    values.push(Value::Integer(query.before_ts.unwrap_or(i64::MAX)));
    values.push(Value::Integer(i64::from(query.limit)));
    let mut stmt = conn.prepare(&sql)?;
    let mut peers = stmt
        .query_map(params_from_iter(values), |r| {
            Ok(Peer {
                with: Counterpart::Person(r.get(0)?),
                msg_id: from_sql_int(r.get(1)?),
                ts: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    if query.from_after {
        peers.reverse();
    }
    Ok(peers)
}

/// A room's latest stored message, unless retention no longer keeps it.
fn latest_in_room(
    conn: &Connection,
    retention: &Retention,
    key: &str,
    now: i64,
) -> Result<Option<Peer>, StoreError> {
    // The newest entry of the room's term, and no condition on its age in
    // SQL: were the newest message past its age, every older one would be
    // too, and the query would read the room's whole list to find none.
    let mut stmt = conn.prepare_cached(
        "SELECT m.id, m.ts, m.room_name FROM message_index f JOIN messages m ON m.id = f.rowid \
         WHERE message_index MATCH ?1 AND m.room_key = ?2 ORDER BY f.rowid DESC LIMIT 1",
    )?;
    let latest = stmt
        .query_row(rusqlite::params![quoted(&room_term(key)), key], |r| {
            Ok(Peer {
                msg_id: from_sql_int(r.get(0)?),
                ts: r.get(1)?,
                with: Counterpart::Room {
                    key: key.to_owned(),
                    name: r
                        .get::<_, Option<String>>(2)?
                        .unwrap_or_else(|| key.to_owned()),
                },
            })
        })
        .optional()?;
    let oldest = oldest_kept(retention, Some(key), now).unwrap_or(i64::MIN);
    Ok(latest.filter(|peer| peer.ts >= oldest))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::index::terms;
    use crate::store::{DEFAULT_CACHE_MIB, RetentionPolicy, schema};

    /// A stored message: id, time, room, sender and recipient (user id
    /// and nickname).
    type Row<'a> = (
        u64,
        i64,
        Option<&'a str>,
        (u64, &'a str),
        Option<(u64, &'a str)>,
    );

    /// A store with these messages, indexed.
    fn store(messages: &[Row<'_>]) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        schema::prepare(&conn, None, DEFAULT_CACHE_MIB).unwrap();
        let mut rows = crate::store::rows::Rows::default();
        for &(id, ts, room, sender, recipient) in messages {
            let message = crate::store::StoredMessage {
                id,
                ts,
                room: room.map(|r| (r.to_owned(), r.to_owned())),
                sender_id: sender.0,
                sender_nick: sender.1.to_owned(),
                recipient: recipient.map(|(rid, nick)| (rid, nick.to_owned())),
                text: "hi".into(),
                action: false,
                kind: crate::store::StoredKind::Message,
                tags: Vec::new(),
            };
            rows.insert(
                &conn,
                &message,
                crate::store::texts::Stored::Plain(&message.text),
            )
            .unwrap();
            conn.execute(
                "INSERT INTO message_index (rowid, terms) VALUES (?1, ?2)",
                rusqlite::params![id.cast_signed(), terms("hi", room, sender, recipient)],
            )
            .unwrap();
        }
        conn
    }

    fn query(user_id: u64, rooms: &[&str]) -> ConversationQuery {
        ConversationQuery {
            reader: Reader {
                user_id,
                account: None,
                rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
            },
            after_ts: None,
            before_ts: None,
            rooms: true,
            limit: 100,
            from_after: false,
        }
    }

    /// The names (`#room` or nickname) and times of a list.
    fn listed(peers: &[Peer]) -> Vec<(String, i64)> {
        peers
            .iter()
            .map(|p| match &p.with {
                Counterpart::Room { name, .. } => (format!("#{name}"), p.ts),
                Counterpart::Person(nick) => (nick.clone(), p.ts),
            })
            .collect()
    }

    const ANN: (u64, &str) = (1, "ann");
    const BOB: (u64, &str) = (2, "bob");
    const CAROL: (u64, &str) = (3, "Carol");
    const DAVE: (u64, &str) = (4, "dave");

    fn sample() -> Connection {
        store(&[
            (1, 100, Some("rust"), BOB, None),
            (2, 200, Some("go"), BOB, None),
            (3, 300, None, ANN, Some(BOB)),
            (4, 400, None, CAROL, Some(ANN)),
            (5, 500, Some("rust"), ANN, None),
            (6, 600, None, CAROL, Some(DAVE)),
            (7, 700, None, ANN, Some((3, "CAROL"))),
            (8, 800, Some("secret"), DAVE, None),
        ])
    }

    #[test]
    fn rooms_and_people_by_their_latest_message() {
        let conn = sample();
        let retention = Retention::default();
        let all = conversations(&conn, &retention, &query(1, &["rust", "go"])).unwrap();
        // Carol once, by her latest message (folded nicknames are one
        // person); never dave's conversation with her, nor a room ann is
        // not in.
        assert_eq!(
            listed(&all),
            [
                ("CAROL".into(), 700),
                ("#rust".into(), 500),
                ("bob".into(), 300),
                ("#go".into(), 200)
            ]
        );
        assert_eq!(all[0].msg_id, 7);
        let people_only = ConversationQuery {
            rooms: false,
            ..query(1, &["rust", "go"])
        };
        assert_eq!(
            listed(&conversations(&conn, &retention, &people_only).unwrap()),
            [("CAROL".into(), 700), ("bob".into(), 300)]
        );
        // Dave sees only his own.
        assert_eq!(
            listed(&conversations(&conn, &retention, &query(4, &["secret"])).unwrap()),
            [("#secret".into(), 800), ("Carol".into(), 600)]
        );
    }

    #[test]
    fn a_window_holds_latest_messages_only_and_the_limit_counts_from_an_end() {
        let conn = sample();
        let retention = Retention::default();
        let window = |after, before, limit, from_after| ConversationQuery {
            after_ts: Some(after),
            before_ts: Some(before),
            limit,
            from_after,
            ..query(1, &["rust", "go"])
        };
        // Carol's conversation has a message at 400, but its latest (700)
        // is past the window; bounds are exclusive.
        assert_eq!(
            listed(&conversations(&conn, &retention, &window(200, 700, 10, false)).unwrap()),
            [("#rust".into(), 500), ("bob".into(), 300)]
        );
        assert_eq!(
            listed(&conversations(&conn, &retention, &window(0, 1000, 2, false)).unwrap()),
            [("CAROL".into(), 700), ("#rust".into(), 500)],
            "the newest two"
        );
        assert_eq!(
            listed(&conversations(&conn, &retention, &window(0, 1000, 2, true)).unwrap()),
            [("bob".into(), 300), ("#go".into(), 200)],
            "the oldest two, still newest first"
        );
        assert!(
            conversations(&conn, &retention, &window(700, 800, 10, false))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_account_lists_its_nicknames_conversations_since_it_was_registered() {
        let conn = sample();
        conn.execute(
            "INSERT INTO accounts (key, nick, hash, created) VALUES ('carol', 'Carol', 'h', 500)",
            [],
        )
        .unwrap();
        // A new session of carol's (another user id), logged into her
        // account: what her nickname said since 500, not before.
        let reader = ConversationQuery {
            reader: Reader {
                user_id: 9,
                account: Some("carol".into()),
                rooms: Vec::new(),
            },
            ..query(9, &[])
        };
        assert_eq!(
            listed(&conversations(&conn, &Retention::default(), &reader).unwrap()),
            [("ann".into(), 700), ("dave".into(), 600)]
        );
    }

    #[test]
    fn a_room_whose_latest_message_is_past_its_age_is_not_listed() {
        let now = now_ms();
        let conn = store(&[
            (1, now - 10_000, Some("old"), ANN, None),
            (2, now, Some("new"), ANN, None),
        ]);
        let mut retention = Retention::default();
        retention.rooms.insert(
            "old".into(),
            RetentionPolicy {
                max_messages: None,
                max_age: Some(Duration::from_secs(1)),
            },
        );
        let found = conversations(&conn, &retention, &query(1, &["old", "new"])).unwrap();
        assert_eq!(listed(&found), [("#new".into(), now)]);
    }
}
