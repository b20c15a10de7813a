//! Reading stored messages: a room's history, and on behalf of one user
//! full-text search and direct message history (the list of their
//! conversations is `conversations`, with the same rules).
//!
//! Every read finds its messages through the message index (see `index`),
//! newest first, and checks what it found against `messages` in SQL, so a
//! term that only looks like a scope term costs a candidate, never a wrong
//! answer. Messages past their age limit are never returned, even before
//! the store's sweep has deleted them.
//!
//! Every user query here is scoped to a [`Reader`]: room messages of the
//! rooms they are in now, and direct messages they sent or received. A
//! direct message is theirs when it was sent to or from their user id (this
//! session), or, when they are logged into an account, to or from the
//! account's nickname since the account was registered: without an account
//! a nickname is anyone's once its user leaves, so whoever takes it next
//! does not get the conversations of the one before.
//!
//! Search: every word must appear in the message, in any case. The index
//! finds words by their beginning (`compil` finds `compiler`; words of one
//! or two letters whole) and CJK text anywhere; each candidate's text is
//! then checked for every word as typed. A word longer than three
//! characters is looked up as the index's terms it begins when there are
//! few of them, else by its first three characters; and the index is asked
//! for the words alone before it is asked for the words in the reader's
//! scope (see [`Way`]). A CJK word is looked up by its pairs of
//! characters, leaving out those far more common than its rarest (see
//! [`common_pairs`]). Of the newest [`SEARCH_WINDOW`]
//! messages that match, the best come first: ranked by BM25's
//! term-frequency and length weighting (how much of the message the words
//! make up), ties newest first; a search made only of words shorter than
//! three characters is ranked newest first.

use std::collections::{HashMap, HashSet, VecDeque};

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::index::{
    any_of, folded_nick_term, has_word_starting, is_pair, long_runs, quoted, room_term, user_term,
    word_terms,
};
use super::{Page, Retention, Span, StoreError, StoredMessage, to_sql_int};
use crate::clock::now_ms;

/// The SQL function that folds a nickname's case as the hub does
/// (`chatroom_proto::nick::fold`), registered on the store's connection.
pub const FOLD_FUNCTION: &str = "nick_fold";

/// Searches rank the newest this many matches (and page through them).
pub const SEARCH_WINDOW: usize = 1_000;

/// Most candidates one search checks, matching or not: a search for
/// punctuation alone, which the index cannot narrow, reads at most this many
/// of the newest messages in scope.
const SCAN_CAP: usize = 20_000;

/// Words this long or longer count towards a relevance ranking.
const RANKED_FROM: usize = 3;

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
    /// The words, all of which must appear (in any case; see the module
    /// documentation for how they are found).
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

/// The temporary table, on every connection that searches, that lists the
/// message index's terms (FTS5's `fts5vocab`): what a long word of a search
/// begins (see [`index::word_terms`](super::index::word_terms)).
const TERMS_TABLE: &str = "temp.message_terms";

/// A long word of a search that begins at most this many of the index's
/// terms is looked up as those terms; one that begins more, by its first
/// three characters (see [`Way`]).
const EXPANSION_MAX: usize = 32;

/// Registers [`FOLD_FUNCTION`] on a connection and creates [`TERMS_TABLE`]
/// (the index need not exist yet: the table finds it when read).
pub fn prepare_connection(conn: &Connection) -> Result<(), StoreError> {
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
    conn.execute_batch(&format!(
        "CREATE VIRTUAL TABLE IF NOT EXISTS {TERMS_TABLE} \
         USING fts5vocab('idx', 'message_index', 'row')"
    ))?;
    Ok(())
}

/// The expansions of the long words of a search (see
/// [`index::word_terms`](super::index::word_terms)): for each, the index's
/// terms it begins, unless there are more than [`EXPANSION_MAX`].
fn expansions(
    conn: &Connection,
    words: &[String],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT term FROM {TERMS_TABLE} WHERE term >= ?1 AND term < ?2 LIMIT ?3"
    ))?;
    let mut out = HashMap::new();
    for run in words.iter().flat_map(|w| long_runs(w)) {
        if out.contains_key(&run) {
            continue;
        }
        // Every term that begins with `run` sorts below `run` followed by
        // the greatest character.
        let end = format!("{run}{}", char::MAX);
        let limit = i64::try_from(EXPANSION_MAX + 1).unwrap_or(i64::MAX);
        let terms = stmt
            .query_map(rusqlite::params![run, end, limit], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        if terms.len() <= EXPANSION_MAX {
            out.insert(run, terms);
        }
    }
    Ok(out)
}

const COLUMNS: &str = "m.id, m.ts, m.room_key, m.room_name, m.sender_id, m.sender_nick, \
     m.recipient_id, m.recipient_nick, m.body, m.action, m.kind, m.tags";

/// Where [`COLUMNS`] has the text.
const TEXT_COLUMN: usize = 8;

/// Where a search's candidates carry whether they are in the reader's
/// scope: the column after [`COLUMNS`].
const SCOPE_COLUMN: usize = 12;

fn message(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredMessage> {
    // The name is stored only where it differs from the key.
    let room = match (row.get::<_, Option<String>>(2)?, row.get(3)?) {
        (Some(key), Some(name)) => Some((key, name)),
        (Some(key), None) => Some((key.clone(), key)),
        (None, _) => None,
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
        text: text_column(row)?.to_owned(),
        action: row.get(9)?,
        kind: super::StoredKind::from_code(row.get(10)?),
        tags: super::tags_from_column(row.get::<_, Option<String>>(11)?.as_deref()),
    })
}

/// The text of a row read with [`COLUMNS`], borrowed.
fn text_column<'r>(row: &'r rusqlite::Row<'_>) -> rusqlite::Result<&'r str> {
    let value = row.get_ref(TEXT_COLUMN)?;
    value.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(TEXT_COLUMN, value.data_type(), Box::new(e))
    })
}

/// A condition on `m` and the values its `?`s take, in order.
pub(super) struct Condition {
    pub(super) sql: String,
    pub(super) values: Vec<Value>,
}

/// Who a reader is in SQL: their session id, and their account's nickname
/// from when it was registered.
pub(super) struct Identity {
    user_id: i64,
    account: Option<(String, i64)>,
}

impl Identity {
    pub(super) fn of(conn: &Connection, reader: &Reader) -> Result<Self, StoreError> {
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

    /// The index terms that find this reader's direct messages.
    pub(super) fn terms(&self) -> Vec<String> {
        let mut terms = vec![user_term(from_sql_int(self.user_id))];
        if let Some((key, _)) = &self.account {
            terms.push(folded_nick_term(key));
        }
        terms
    }

    /// `m`'s sender (`side` "sender") or recipient ("recipient") is the
    /// reader.
    pub(super) fn is(&self, side: &str) -> Condition {
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
    pub(super) fn direct(&self, with: Option<&str>) -> Condition {
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

/// The words of a search, control characters removed.
fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The index terms of a search's words, and the beginnings of words the
/// text of a candidate must have: with `by_three`, long words are looked
/// up by their first three characters and returned for the check of the
/// text, unless they have `expansions` (see [`word_terms`]).
fn terms_of(
    words: &[String],
    by_three: bool,
    expansions: &HashMap<String, Vec<String>>,
) -> (Vec<String>, Vec<String>) {
    let mut terms = Vec::new();
    let mut starts = Vec::new();
    for word in words {
        let (word_terms, word_starts) = word_terms(word, by_three, expansions);
        terms.extend(word_terms);
        starts.extend(word_starts);
    }
    (terms, starts)
}

/// The index query for messages that have `terms` but those `left_out`
/// (see [`common_pairs`]), in `scope` (an index expression) if given.
fn index_query(scope: Option<&str>, terms: &[String], left_out: &HashSet<String>) -> String {
    scope
        .into_iter()
        .chain(
            terms
                .iter()
                .filter(|t| !left_out.contains(*t))
                .map(String::as_str),
        )
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// A CJK bigram of a search this many times as common as the search's
/// rarest is left out of its index query (see [`common_pairs`]).
const COMMON_PAIR: u64 = 16;

/// How many of a bigram's newest matches tell how common it is.
const PAIR_PROBE: u64 = 64;

/// The CJK bigrams of a search's `terms` that its index query leaves out:
/// those at least [`COMMON_PAIR`] times as common as the rarest, judged by
/// how far back from the newest message their [`PAIR_PROBE`]th newest
/// match lies (the index's newest matches, read in a fraction of a
/// millisecond each). FTS5 reads the whole list of every term of a query,
/// and in Chinese a pair such as `你们` is in nearly one message in five, where
/// one such as `户你` is in one of 1,600 (the bench's history of 13.6
/// million messages); the text of each candidate is checked for the whole
/// word anyway (see [`is_pair`]). The rarest is always kept, and words other
/// than CJK are never left out (a word's text alone does not say the index
/// holds it).
fn common_pairs(conn: &Connection, terms: &[String]) -> Result<HashSet<String>, StoreError> {
    let pairs: HashSet<&String> = terms.iter().filter(|t| is_pair(t)).collect();
    if pairs.len() < 2 {
        return Ok(HashSet::new());
    }
    let newest: i64 = conn
        .query_row("SELECT max(id) FROM message_rows", [], |r| {
            r.get::<_, Option<i64>>(0)
        })?
        .unwrap_or(0);
    // A pair with fewer matches than the probe reaches back past the
    // oldest message.
    let history = u64::try_from(newest).unwrap_or(0).saturating_add(1);
    let mut stmt = conn.prepare_cached(
        "SELECT rowid FROM message_index WHERE message_index MATCH ?1 \
         ORDER BY rowid DESC LIMIT 1 OFFSET ?2",
    )?;
    let mut spans = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let probed: Option<i64> = stmt
            .query_row(rusqlite::params![pair, to_sql_int(PAIR_PROBE - 1)], |r| {
                r.get(0)
            })
            .optional()?;
        let span = probed.map_or(history, |id| u64::try_from(newest - id).unwrap_or(0) + 1);
        spans.push((pair, span));
    }
    let rarest = spans.iter().map(|&(_, span)| span).max().unwrap_or(0);
    Ok(spans
        .into_iter()
        .filter(|&(_, span)| span.saturating_mul(COMMON_PAIR) <= rarest)
        .map(|(pair, _)| pair.clone())
        .collect())
}

/// One way of asking the index for a search's candidates. The index
/// answers "these terms, newest first" from one lazily read list per term,
/// except that ORing the reader's scope (ten rooms, a big one among them)
/// into the query makes it seek every scope list at every step, and a
/// prefix longer than three characters makes it merge whole lists before
/// the first row. Measured on 10,000,000 messages, for a reader in ten
/// rooms: two mid-frequency words 55 ms with the scope in the index and 36
/// ms with the scope checked in SQL on the candidates the words alone find
/// (Chinese four characters: 50 and 38 ms); a word as common as `just` the
/// other way round, 8 and 13 ms. So the words alone come first, and give
/// up for the scope's terms when too few candidates are in scope or the
/// candidates are dense (`docs/benchmarks.md`, "Search: the words first").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Way {
    /// The index query holds the reader's scope terms; otherwise only the
    /// words narrow it and SQL checks the scope of each candidate.
    scoped: bool,
    /// Long words by their first three characters, checked in the text
    /// (see [`word_terms`]); otherwise by their whole prefixes.
    by_three: bool,
}

/// The ways to try, cheapest first when they work: without the scope
/// terms (when the words make terms at all), long words by three
/// characters before whole prefixes (only when there are long words). The
/// last is exact; the others give up early (see [`candidates`]).
fn ways(terms: usize, long_words: bool) -> VecDeque<Way> {
    let mut ways = VecDeque::new();
    for scoped in [false, true] {
        if !scoped && terms == 0 {
            continue;
        }
        ways.push_back(Way {
            scoped,
            by_three: true,
        });
        if long_words {
            ways.push_back(Way {
                scoped,
                by_three: false,
            });
        }
    }
    ways
}

/// A way without the scope terms gives up (for one with them) when, after
/// [`PROBE`] candidates, the share in scope says that a full window would
/// take more candidates than this: out-of-scope candidates cost only SQL's
/// check, and a reader in a fifth of the history needs about 5,000.
const UNSCOPED_CAP: usize = 10_000;

/// A way with long words by three characters gives up (for their whole
/// prefixes) when, after [`PROBE`] candidates in scope, the share of them
/// whose text has the words says a full window would take more in-scope
/// candidates than this: a rare word whose first three characters are
/// common (`comp` among `com...`, when `comp` begins too many terms to
/// expand) is found faster by its whole prefix.
const BY_THREE_CAP: usize = 4_000;

/// A way without the scope terms gives up (for one with them) when its
/// first [`PROBE`] candidates are among the newest `PROBE` times this many
/// messages: FTS5 steps through a dense list and the scope's lists
/// together quickly, where SQL would check every candidate, five for each
/// one in scope for the bench's readers. Measured at 10,000,000 messages,
/// p50 with the scope terms and without: a mid-frequency word (`memory`,
/// in one message in 200) 13-15 and 17-19 ms; a rare word (`gomovan`, one
/// in 23,000) 18-19 and 13-14 ms; two words are mostly rarer together
/// (`memory just`, one in 2,000) (`docs/benchmarks.md`, "Search: the words
/// first").
const DENSE: usize = 1_000;

/// Candidates checked before a share is trusted.
const PROBE: usize = 300;

/// Why a pass gave up before its window was full (see [`candidates`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GaveUp {
    /// Too few candidates were in scope: a way with the scope terms
    /// reads only those.
    Scope,
    /// The candidates were dense (see [`DENSE`]): FTS5 finds the ones in
    /// scope faster with the scope terms than SQL checks them all.
    Dense,
    /// Too few in-scope candidates had the long words looked up by three
    /// characters: their whole prefixes find only those.
    Text,
}

/// What one pass over the index's candidates found.
struct Candidates {
    /// The matches, newest first, each with its lowercased text.
    matches: Vec<(String, StoredMessage)>,
    /// Why it stopped early, if it did.
    gave_up: Option<GaveUp>,
}

/// Reads the candidates `sql` finds, newest first (its last column says
/// whether the candidate is in the reader's scope), and keeps those in
/// scope whose text has every word (and a word beginning with each of
/// `starts`) and which retention still keeps, up to [`SEARCH_WINDOW`]
/// matches or [`SCAN_CAP`] candidates in scope. It gives up early (see
/// [`GaveUp`]) for the scope or for density if `scope_may_give_up` (a way
/// without the scope terms), for the text if `text_may_give_up` (a way
/// with long words by three characters).
fn candidates(
    conn: &Connection,
    (sql, values): (&str, Vec<Value>),
    (lowered, starts): (&[String], &[String]),
    retention: &Retention,
    (scope_may_give_up, text_may_give_up): (bool, bool),
) -> Result<Candidates, StoreError> {
    let now = now_ms();
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut matches = Vec::new();
    let (mut scanned, mut in_scope, mut first_id) = (0, 0, None);
    while let Some(row) = rows.next()? {
        scanned += 1;
        let id: i64 = row.get(0)?;
        let newest = *first_id.get_or_insert(id);
        if row.get::<_, Option<bool>>(SCOPE_COLUMN)?.unwrap_or(false) {
            in_scope += 1;
            // The text first: most candidates that fail, fail there, and
            // are not read whole.
            let body = text_column(row)?.to_lowercase();
            if lowered.iter().all(|w| body.contains(w.as_str()))
                && starts.iter().all(|s| has_word_starting(&body, s))
            {
                let m = message(row)?;
                if !expired(retention, &m, now) {
                    matches.push((body, m));
                    if matches.len() == SEARCH_WINDOW {
                        break;
                    }
                }
            }
            if in_scope == SCAN_CAP {
                break;
            }
        }
        let gave_up = if scope_may_give_up
            && scanned >= PROBE
            && in_scope * UNSCOPED_CAP < scanned * SEARCH_WINDOW
        {
            Some(GaveUp::Scope)
        } else if scope_may_give_up
            && scanned == PROBE
            && usize::try_from(newest - id).unwrap_or(usize::MAX) < PROBE * DENSE
        {
            Some(GaveUp::Dense)
        } else if text_may_give_up
            && in_scope >= PROBE
            && matches.len() * BY_THREE_CAP < in_scope * SEARCH_WINDOW
        {
            Some(GaveUp::Text)
        } else {
            None
        };
        if gave_up.is_some() {
            return Ok(Candidates { matches, gave_up });
        }
    }
    Ok(Candidates {
        matches,
        gave_up: None,
    })
}

/// The oldest timestamp the retention policy still keeps for a room (or,
/// with `None`, for direct messages), if it limits age.
pub(super) fn oldest_kept(retention: &Retention, room_key: Option<&str>, now: i64) -> Option<i64> {
    let policy = match room_key {
        Some(key) => retention.for_room(key),
        None => retention.default,
    };
    policy
        .max_age
        .map(|age| now.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX)))
}

/// Whether `m` is past its age limit.
fn expired(retention: &Retention, m: &StoredMessage, now: i64) -> bool {
    let room = m.room.as_ref().map(|(key, _)| key.as_str());
    oldest_kept(retention, room, now).is_some_and(|oldest| m.ts < oldest)
}

/// BM25's weighting of term frequency against length (k1 1.2, b 0.75),
/// summed over the words: how much of `body` the words make up.
fn score(body: &str, words: &[String], average_len: f64) -> f64 {
    const K1: f64 = 1.2;
    const B: f64 = 0.75;
    let len = body.chars().count() as f64;
    words
        .iter()
        .map(|w| {
            let tf = body.matches(w.as_str()).count() as f64;
            tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / average_len.max(1.0)))
        })
        .sum()
}

/// Runs a search (see the module documentation for how it matches and ranks).
pub fn search(
    conn: &Connection,
    retention: &Retention,
    query: &SearchQuery,
) -> Result<Found, StoreError> {
    let words = words(&query.text);
    if words.is_empty() {
        return Ok(Found {
            messages: Vec::new(),
            has_more: false,
        });
    }
    let identity = Identity::of(conn, &query.reader)?;
    let (scope, terms) = match (&query.room, &query.with) {
        (Some(room), _) => (
            in_rooms(std::slice::from_ref(room)),
            quoted(&room_term(room)),
        ),
        (None, Some(peer)) => (
            identity.direct(Some(peer)),
            format!(
                "{} AND {}",
                any_of(&identity.terms()),
                quoted(&folded_nick_term(peer))
            ),
        ),
        (None, None) => {
            let rooms = in_rooms(&query.reader.rooms);
            let direct = identity.direct(None);
            let mut terms: Vec<String> = query.reader.rooms.iter().map(|r| room_term(r)).collect();
            terms.extend(identity.terms());
            (
                Condition {
                    sql: format!("({} OR {})", rooms.sql, direct.sql),
                    values: rooms.values.into_iter().chain(direct.values).collect(),
                },
                any_of(&terms),
            )
        }
    };
    // The scope is checked in SQL on every candidate (the last column);
    // some ways also put it in the index query (see `Way`). The text is
    // read only for candidates in scope: unpacking it (see `texts`) is most
    // of what reading a row costs, and most candidates of a search of all
    // one's rooms are elsewhere.
    let columns = COLUMNS.replace(
        "m.body",
        &format!("CASE WHEN {} THEN m.body END", scope.sql),
    );
    let sql = format!(
        "SELECT {columns}, {} FROM message_index f JOIN messages m ON m.id = f.rowid \
         WHERE message_index MATCH ? AND m.kind <= 1 ORDER BY f.rowid DESC",
        scope.sql
    );
    let lowered: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let expansions = expansions(conn, &words)?;
    let (all_terms, long_words) = terms_of(&words, true, &expansions);
    let left_out = common_pairs(conn, &all_terms)?;
    let terms_of_words = all_terms.iter().filter(|t| !left_out.contains(*t)).count();
    let mut ways = ways(terms_of_words, !long_words.is_empty());
    let mut matches = Vec::new();
    while let Some(way) = ways.pop_front() {
        let (word_terms, starts) = terms_of(&words, way.by_three, &expansions);
        let matching = index_query(way.scoped.then_some(terms.as_str()), &word_terms, &left_out);
        // The scope's values twice: in the text's column and in the last.
        let mut values = [scope.values.as_slice(), &scope.values].concat();
        values.push(Value::Text(matching));
        // The last way is exact: it never gives up.
        let may_give_up = (
            !ways.is_empty() && !way.scoped,
            !ways.is_empty() && !starts.is_empty(),
        );
        let found = candidates(
            conn,
            (&sql, values),
            (&lowered, &starts),
            retention,
            may_give_up,
        )?;
        let Some(why) = found.gave_up else {
            matches = found.matches;
            break;
        };
        // Skip the ways that would give up for the same reason, never the
        // last one.
        let last = ways.pop_back();
        ways.retain(|w| match why {
            GaveUp::Scope | GaveUp::Dense => w.scoped,
            GaveUp::Text => !w.by_three,
        });
        ways.extend(last);
    }
    if words.iter().any(|w| w.chars().count() >= RANKED_FROM) && !matches.is_empty() {
        let average = matches
            .iter()
            .map(|(body, _)| body.chars().count() as f64)
            .sum::<f64>()
            / matches.len() as f64;
        let mut scored: Vec<(f64, StoredMessage)> = matches
            .into_iter()
            .map(|(body, m)| (score(&body, &lowered, average), m))
            .collect();
        // Best first; ties newest first (the candidates came newest first
        // and the sort is stable).
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        matches = scored
            .into_iter()
            .map(|(_, m)| (String::new(), m))
            .collect();
    }
    let mut messages: Vec<StoredMessage> = matches
        .into_iter()
        .map(|(_, m)| m)
        .skip(query.offset as usize)
        .take(query.limit as usize + 1)
        .collect();
    let has_more = messages.len() > query.limit as usize;
    messages.truncate(query.limit as usize);
    Ok(Found { messages, has_more })
}

/// Up to `limit` messages of a room with ids below `before`, oldest first,
/// and whether there are older ones.
pub fn room_page(
    conn: &Connection,
    retention: &Retention,
    room_key: &str,
    span: Span,
    limit: u32,
) -> Result<Page, StoreError> {
    let oldest = oldest_kept(retention, Some(room_key), now_ms()).unwrap_or(i64::MIN);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM message_index f JOIN messages m ON m.id = f.rowid \
         WHERE message_index MATCH ?1 AND f.rowid > ?2 AND f.rowid < ?3 AND m.room_key = ?4 \
           AND m.ts >= ?5 AND m.ts > ?6 AND m.ts < ?7 AND m.kind <= ?9 \
         ORDER BY f.rowid {} LIMIT ?8",
        span.order()
    ))?;
    let (after_ts, before_ts) = span.times();
    let messages = stmt
        .query_map(
            rusqlite::params![
                quoted(&room_term(room_key)),
                span.after_id.map_or(i64::MIN, to_sql_int),
                span.before_id.map_or(i64::MAX, to_sql_int),
                room_key,
                oldest,
                after_ts,
                before_ts,
                i64::from(limit) + 1,
                span.kinds()
            ],
            message,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(span.page(messages, limit))
}

/// Up to `limit` direct messages between the reader and `with` (a folded
/// nickname) with ids below `before`, oldest first; and whether there are
/// older ones.
pub fn direct_history(
    conn: &Connection,
    retention: &Retention,
    reader: &Reader,
    with: &str,
    span: Span,
    limit: u32,
) -> Result<Page, StoreError> {
    let identity = Identity::of(conn, reader)?;
    let scope = identity.direct(Some(with));
    let terms = format!(
        "{} AND {}",
        any_of(&identity.terms()),
        quoted(&folded_nick_term(with))
    );
    let sql = format!(
        "SELECT {COLUMNS} FROM message_index f JOIN messages m ON m.id = f.rowid \
         WHERE message_index MATCH ? AND {} AND f.rowid > ? AND f.rowid < ? AND m.ts >= ? \
           AND m.ts > ? AND m.ts < ? AND m.kind <= ? \
         ORDER BY f.rowid {} LIMIT ?",
        scope.sql,
        span.order()
    );
    let (after_ts, before_ts) = span.times();
    let mut values = vec![Value::Text(terms)];
    values.extend(scope.values);
    values.push(Value::Integer(span.after_id.map_or(i64::MIN, to_sql_int)));
    values.push(Value::Integer(span.before_id.map_or(i64::MAX, to_sql_int)));
    values.push(Value::Integer(
        oldest_kept(retention, None, now_ms()).unwrap_or(i64::MIN),
    ));
    values.push(Value::Integer(after_ts));
    values.push(Value::Integer(before_ts));
    values.push(Value::Integer(span.kinds()));
    values.push(Value::Integer(i64::from(limit) + 1));
    let mut stmt = conn.prepare(&sql)?;
    let messages = stmt
        .query_map(params_from_iter(values), message)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(span.page(messages, limit))
}

/// An id read from SQLite (never negative).
pub(super) fn from_sql_int(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_drop_control_characters() {
        assert_eq!(
            words("你好 世界和平 ab  rust\u{0}ic"),
            ["你好", "世界和平", "ab", "rustic"]
        );
    }

    #[test]
    fn user_text_is_never_query_syntax() {
        let words = ["a\"b".into(), "OR".into(), "NEAR(x".into()];
        let none = HashSet::new();
        let (terms, _) = terms_of(&words, false, &HashMap::new());
        assert_eq!(terms.len(), 5);
        assert_eq!(
            index_query(Some("\"s\""), &terms, &none),
            "\"s\" AND \"a\" AND \"b\" AND \"or\" AND \"near\"* AND \"x\""
        );
        assert_eq!(
            index_query(None, &terms, &none),
            "\"a\" AND \"b\" AND \"or\" AND \"near\"* AND \"x\""
        );
        let (terms, _) = terms_of(&["%".into()], false, &HashMap::new());
        assert!(terms.is_empty());
        assert_eq!(index_query(Some("\"s\""), &terms, &none), "\"s\"");
    }

    /// A database in memory, made as the store makes one, whose messages
    /// (in one room) have `texts`, indexed as the writer indexes them.
    fn indexed(texts: &[String]) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        super::super::schema::prepare(&conn, None, 1).unwrap();
        for (id, text) in (1..).zip(texts) {
            conn.execute(
                "INSERT INTO message_rows (id, ts, place, speaker, body) VALUES (?1, 0, 1, 1, '')",
                [id],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO message_index (rowid, terms) VALUES (?1, ?2)",
                rusqlite::params![
                    id,
                    super::super::index::terms(text, Some("r"), (1, "ann"), None)
                ],
            )
            .unwrap();
        }
        conn
    }

    #[test]
    fn a_pair_far_more_common_than_the_rarest_is_left_out() {
        // `你们` in 49 messages of 50; `们测` and `测试` in 2 of 50.
        let texts: Vec<String> = (0..5_000)
            .map(|i| match i % 50 {
                0 => "我们测试一下".to_owned(),
                1 => "你们测试完了吗".to_owned(),
                _ => format!("你们好 {i}"),
            })
            .collect();
        let conn = indexed(&texts);
        let (terms, _) = terms_of(&["你们测试".into()], true, &HashMap::new());
        assert_eq!(terms, ["\"你们\"", "\"们测\"", "\"测试\""]);
        let left_out = common_pairs(&conn, &terms).unwrap();
        assert_eq!(left_out, HashSet::from(["\"你们\"".to_owned()]));
        assert_eq!(
            index_query(None, &terms, &left_out),
            "\"们测\" AND \"测试\""
        );
    }

    #[test]
    fn pairs_alike_and_words_other_than_cjk_stay() {
        let texts: Vec<String> = (0..2_000).map(|i| format!("你们测试 rust {i}")).collect();
        let conn = indexed(&texts);
        let words = ["你们测试".to_owned(), "rust".to_owned()];
        let (terms, _) = terms_of(&words, true, &HashMap::new());
        assert!(common_pairs(&conn, &terms).unwrap().is_empty());
        // One pair alone is never left out, however common.
        let (terms, _) = terms_of(&["你们".into(), "rust".into()], true, &HashMap::new());
        assert!(common_pairs(&conn, &terms).unwrap().is_empty());
        // Nor in an empty history.
        let (terms, _) = terms_of(&["你们测试".into()], true, &HashMap::new());
        assert!(common_pairs(&indexed(&[]), &terms).unwrap().is_empty());
    }

    #[test]
    fn the_scope_leaves_the_index_query_only_when_the_words_make_terms() {
        let way = |scoped, by_three| Way { scoped, by_three };
        assert_eq!(
            Vec::from(ways(2, true)),
            [
                way(false, true),
                way(false, false),
                way(true, true),
                way(true, false)
            ]
        );
        assert_eq!(
            Vec::from(ways(3, false)),
            [way(false, true), way(true, true)]
        );
        assert_eq!(Vec::from(ways(0, false)), [way(true, true)]);
        assert_eq!(
            Vec::from(ways(1, false)),
            [way(false, true), way(true, true)]
        );
    }

    #[test]
    fn more_of_the_words_scores_higher() {
        let words = ["tokio".to_owned()];
        let short = score("tokio tokio tokio", &words, 40.0);
        let long = score(
            "a long message that happens to mention tokio just once among many words",
            &words,
            40.0,
        );
        assert!(short > long, "{short} {long}");
    }
}
