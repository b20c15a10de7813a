//! Reading stored messages on behalf of one user: full-text search, direct
//! message history and the list of direct-message conversations.
//!
//! Every query here is scoped to a [`Reader`]: room messages of the rooms
//! they are in now, and direct messages they sent or received. A direct
//! message is theirs when it was sent to or from their user id (this
//! session), or, when they are logged into an account, to or from the
//! account's nickname since the account was registered: without an account
//! a nickname is anyone's once its user leaves, so whoever takes it next
//! does not get the conversations of the one before.
//!
//! Search uses the FTS5 table `messages_fts` (see `schema`), built with the
//! `trigram` tokenizer: it matches any substring of three characters or
//! more, in any case, so Chinese (which has no spaces between words) is
//! searchable like any other text. Words of one or two characters, which
//! trigrams cannot index, are matched by scanning (`LIKE`) the reader's
//! messages; a search made only of such words is ranked by recency instead
//! of relevance. Results are ranked by bm25, then newest first.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::{StoreError, StoredMessage};

/// The SQL function that folds a nickname's case as the hub does
/// (`chatroom_proto::nick::fold`), registered on the store's connection.
pub const FOLD_FUNCTION: &str = "nick_fold";

/// Shortest word the trigram index can find.
const TRIGRAM: usize = 3;

/// Whose messages a query may return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    /// Their user id in this session.
    pub user_id: u64,
    /// The account they are logged into (a folded nickname), if any.
    pub account: Option<String>,
    /// The folded keys of the rooms they are in now.
    pub rooms: Vec<String>,
}

/// What to search for, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Who is searching.
    pub reader: Reader,
    /// The words, all of which must appear (as substrings, in any case).
    pub text: String,
    /// Only this room (a folded key; it must be one of the reader's).
    pub room: Option<String>,
    /// Only direct messages with this nickname (folded).
    pub with: Option<String>,
    /// How many results at most.
    pub limit: u32,
    /// How many of the best results to skip (the previous pages).
    pub offset: u32,
}

/// A page of search results, best first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The messages.
    pub messages: Vec<StoredMessage>,
    /// Whether more results follow.
    pub has_more: bool,
}

/// One person a reader exchanged direct messages with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Their nickname, as in the latest message.
    pub nick: String,
    /// The latest message's id.
    pub msg_id: u64,
    /// Its timestamp.
    pub ts: i64,
}

/// Registers [`FOLD_FUNCTION`] on a connection.
pub fn register_functions(conn: &Connection) -> Result<(), StoreError> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        FOLD_FUNCTION,
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let nick: Option<String> = ctx.get(0)?;
            Ok(nick.map(|n| chatroom_proto::nick::fold(&n)))
        },
    )?;
    Ok(())
}

const COLUMNS: &str = "m.id, m.ts, m.room_key, m.room_name, m.sender_id, m.sender_nick, \
     m.recipient_id, m.recipient_nick, m.body, m.action";

fn message(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredMessage> {
    let room = match (row.get::<_, Option<String>>(2)?, row.get(3)?) {
        (Some(key), Some(name)) => Some((key, name)),
        _ => None,
    };
    let recipient = match (row.get::<_, Option<i64>>(6)?, row.get(7)?) {
        (Some(id), Some(nick)) => Some((from_sql_int(id), nick)),
        _ => None,
    };
    Ok(StoredMessage {
        id: from_sql_int(row.get(0)?),
        ts: row.get(1)?,
        room,
        sender_id: from_sql_int(row.get(4)?),
        sender_nick: row.get(5)?,
        recipient,
        text: row.get(8)?,
        action: row.get(9)?,
    })
}

/// A condition on `m` and the values its `?`s take, in order.
struct Condition {
    sql: String,
    values: Vec<Value>,
}

/// Who a reader is in SQL: their session id, and their account's nickname
/// from when it was registered.
struct Identity {
    user_id: i64,
    account: Option<(String, i64)>,
}

impl Identity {
    fn of(conn: &Connection, reader: &Reader) -> Result<Self, StoreError> {
        let account = match &reader.account {
            Some(key) => conn
                .query_row("SELECT created FROM accounts WHERE key = ?1", [key], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()?
                .map(|created| (key.clone(), created)),
            None => None,
        };
        Ok(Identity {
            user_id: to_sql_int(reader.user_id),
            account,
        })
    }

    /// `m`'s sender (`side` "sender") or recipient ("recipient") is the
    /// reader.
    fn is(&self, side: &str) -> Condition {
        let mut sql = format!("(m.{side}_id = ?");
        let mut values = vec![Value::Integer(self.user_id)];
        if let Some((key, created)) = &self.account {
            sql.push_str(&format!(
                " OR (m.ts >= ? AND {FOLD_FUNCTION}(m.{side}_nick) = ?)"
            ));
            values.push(Value::Integer(*created));
            values.push(Value::Text(key.clone()));
        }
        sql.push(')');
        Condition { sql, values }
    }

    /// `m` is a direct message of the reader's; with `with`, one between
    /// them and that (folded) nickname.
    fn direct(&self, with: Option<&str>) -> Condition {
        let (sender, recipient) = (self.is("sender"), self.is("recipient"));
        let mut values = Vec::new();
        let sql = match with {
            None => {
                values.extend(sender.values);
                values.extend(recipient.values);
                format!(
                    "(m.room_key IS NULL AND ({} OR {}))",
                    sender.sql, recipient.sql
                )
            }
            Some(peer) => {
                values.extend(sender.values);
                values.push(Value::Text(peer.to_owned()));
                values.extend(recipient.values);
                values.push(Value::Text(peer.to_owned()));
                format!(
                    "(m.room_key IS NULL AND (({} AND {FOLD_FUNCTION}(m.recipient_nick) = ?) \
                     OR ({} AND {FOLD_FUNCTION}(m.sender_nick) = ?)))",
                    sender.sql, recipient.sql
                )
            }
        };
        Condition { sql, values }
    }
}

/// `m` is in one of `rooms` (folded keys).
fn in_rooms(rooms: &[String]) -> Condition {
    if rooms.is_empty() {
        return Condition {
            sql: "0".into(),
            values: Vec::new(),
        };
    }
    Condition {
        sql: format!("m.room_key IN ({})", vec!["?"; rooms.len()].join(", ")),
        values: rooms.iter().cloned().map(Value::Text).collect(),
    }
}

/// The words of a search, control characters removed: those long enough
/// for the trigram index, and the shorter ones.
fn words(text: &str) -> (Vec<String>, Vec<String>) {
    text.split_whitespace()
        .map(|w| w.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|w| !w.is_empty())
        .partition(|w| w.chars().count() >= TRIGRAM)
}

/// An FTS5 query matching every word literally (each a quoted string, so
/// nothing a user types is read as query syntax).
fn fts_query(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `LIKE` pattern matching `word` anywhere, its wildcards escaped.
fn like_pattern(word: &str) -> String {
    let mut pattern = String::from("%");
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Runs a search (see the module documentation for how it matches and ranks).
pub fn search(conn: &Connection, query: &SearchQuery) -> Result<Found, StoreError> {
    let identity = Identity::of(conn, &query.reader)?;
    let scope = match (&query.room, &query.with) {
        (Some(room), _) => in_rooms(std::slice::from_ref(room)),
        (None, Some(peer)) => identity.direct(Some(peer)),
        (None, None) => {
            let rooms = in_rooms(&query.reader.rooms);
            let direct = identity.direct(None);
            Condition {
                sql: format!("({} OR {})", rooms.sql, direct.sql),
                values: rooms.values.into_iter().chain(direct.values).collect(),
            }
        }
    };
    let (long, short) = words(&query.text);
    if long.is_empty() && short.is_empty() {
        return Ok(Found {
            messages: Vec::new(),
            has_more: false,
        });
    }
    let mut values = Vec::new();
    let mut sql = if long.is_empty() {
        format!("SELECT {COLUMNS} FROM messages m WHERE {}", scope.sql)
    } else {
        values.push(Value::Text(fts_query(&long)));
        format!(
            "SELECT {COLUMNS} FROM messages_fts f JOIN messages m ON m.id = f.rowid \
             WHERE messages_fts MATCH ? AND {}",
            scope.sql
        )
    };
    values.extend(scope.values);
    for word in &short {
        sql.push_str(" AND m.body LIKE ? ESCAPE '\\'");
        values.push(Value::Text(like_pattern(word)));
    }
    sql.push_str(if long.is_empty() {
        " ORDER BY m.id DESC"
    } else {
        " ORDER BY bm25(messages_fts), m.id DESC"
    });
    sql.push_str(" LIMIT ? OFFSET ?");
    values.push(Value::Integer(i64::from(query.limit) + 1));
    values.push(Value::Integer(i64::from(query.offset)));
    let mut stmt = conn.prepare(&sql)?;
    let mut messages = stmt
        .query_map(params_from_iter(values), message)?
        .collect::<Result<Vec<_>, _>>()?;
    let has_more = messages.len() > query.limit as usize;
    messages.truncate(query.limit as usize);
    Ok(Found { messages, has_more })
}

/// Up to `limit` direct messages between the reader and `with` (a folded
/// nickname) with ids below `before`, oldest first; and whether there are
/// older ones.
pub fn direct_history(
    conn: &Connection,
    reader: &Reader,
    with: &str,
    before: Option<u64>,
    limit: u32,
) -> Result<(Vec<StoredMessage>, bool), StoreError> {
    let identity = Identity::of(conn, reader)?;
    let scope = identity.direct(Some(with));
    let sql = format!(
        "SELECT {COLUMNS} FROM messages m WHERE {} AND m.id < ? ORDER BY m.id DESC LIMIT ?",
        scope.sql
    );
    let mut values = scope.values;
    values.push(Value::Integer(before.map_or(i64::MAX, to_sql_int)));
    values.push(Value::Integer(i64::from(limit) + 1));
    let mut stmt = conn.prepare(&sql)?;
    let mut messages = stmt
        .query_map(params_from_iter(values), message)?
        .collect::<Result<Vec<_>, _>>()?;
    let has_more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    messages.reverse();
    Ok((messages, has_more))
}

/// The people the reader exchanged direct messages with, the most recent
/// conversation first, at most `limit`.
pub fn conversations(
    conn: &Connection,
    reader: &Reader,
    limit: u32,
) -> Result<Vec<Peer>, StoreError> {
    let identity = Identity::of(conn, reader)?;
    let sent = identity.is("sender");
    let scope = identity.direct(None);
    // SQLite takes the other columns of a MAX() aggregate from the row
    // that has the maximum: the latest message with each peer.
    let sql = format!(
        "SELECT CASE WHEN {} THEN m.recipient_nick ELSE m.sender_nick END AS peer, \
                MAX(m.id), m.ts \
         FROM messages m WHERE {} \
         GROUP BY {FOLD_FUNCTION}(peer) ORDER BY MAX(m.id) DESC LIMIT ?",
        sent.sql, scope.sql
    );
    let mut values = sent.values;
    values.extend(scope.values);
    values.push(Value::Integer(i64::from(limit)));
    let mut stmt = conn.prepare(&sql)?;
    let peers = stmt
        .query_map(params_from_iter(values), |r| {
            Ok(Peer {
                nick: r.get(0)?,
                msg_id: from_sql_int(r.get(1)?),
                ts: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(peers)
}

/// SQLite integers are signed; ids never come near `i64::MAX`.
fn to_sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_sql_int(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_by_what_trigrams_can_find() {
        let (long, short) = words("你好 世界和平 ab  rust\u{0}ic");
        assert_eq!(long, ["世界和平", "rustic"]);
        assert_eq!(short, ["你好", "ab"]);
    }

    #[test]
    fn user_text_is_never_query_syntax() {
        assert_eq!(
            fts_query(&["a\"b OR".into(), "NEAR(x".into()]),
            "\"a\"\"b OR\" \"NEAR(x\""
        );
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
