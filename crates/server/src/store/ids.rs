//! Ids that never go backwards: message and user id ceilings kept in the
//! database ahead of the ids handed out.
//!
//! The hub hands out ids from counters in memory and fans a message out
//! before the store has committed it, so the highest stored id is not the
//! highest id anyone has seen: after a crash, continuing from it would give
//! seen ids (and acknowledged ones, before acknowledgements waited for
//! commits) to new messages. Instead the database holds a *ceiling* per
//! kind of id, always at least half a block ahead of every id the store has
//! been told about, raised in the same transaction as the records that need
//! it. A restart continues after the ceiling, so an id handed out before a
//! crash is never handed out again unless the hub ran more than half a block
//! ahead of the store's commits. A clean shutdown lowers the ceilings to the
//! last ids actually used, so restarts leave no gap in normal operation.
//!
//! An in-memory store forgets everything at exit; its message ids start at
//! the current time in microseconds instead, so they still never repeat
//! across restarts (unless a run averaged more than a million messages a
//! second).

use rusqlite::Connection;

use super::{StoreError, meta};
use crate::clock::now_ms;

/// How far ahead of the message ids in use the ceiling is kept.
const MESSAGE_BLOCK: u64 = 100_000;

/// How far ahead of the user ids in use the ceiling is kept.
const USER_BLOCK: u64 = 10_000;

/// The two kinds of id the store keeps ceilings for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Message,
    User,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Message => "message_id_ceiling",
            Kind::User => "user_id_ceiling",
        }
    }

    fn block(self) -> u64 {
        match self {
            Kind::Message => MESSAGE_BLOCK,
            Kind::User => USER_BLOCK,
        }
    }
}

/// Where the counters start, and the server's epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The first message id to hand out.
    pub next_message: u64,
    /// The first user id to hand out.
    pub next_user: u64,
    /// Identifies this server's id space: it changes only when the ids may
    /// start over (a new database, or every start of an in-memory one).
    pub epoch: u64,
}

/// The ceilings as the store thread keeps them.
#[derive(Debug, Clone, Copy)]
pub struct Ceilings {
    message: u64,
    user: u64,
}

/// Reads where the last run stopped, reserves a block of each kind of id
/// ahead of it, and returns where this run starts.
pub fn start(conn: &Connection, in_memory: bool) -> Result<(Start, Ceilings), StoreError> {
    let max_stored: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
        r.get(0)
    })?;
    // `max_user_id` is the key earlier versions kept: the highest user id
    // that appeared in a stored message.
    let legacy_user = read(conn, "max_user_id")?;
    let mut next_message = from_sql(max_stored).max(read(conn, Kind::Message.key())?) + 1;
    if in_memory {
        let micros = u64::try_from(now_ms()).unwrap_or(0).saturating_mul(1000);
        next_message = next_message.max(micros);
    }
    let next_user = legacy_user.max(read(conn, Kind::User.key())?) + 1;
    let epoch = match meta::get(conn, "epoch")? {
        Some(epoch) => epoch.cast_unsigned(),
        None => {
            let epoch: i64 = conn.query_row("SELECT random()", [], |r| r.get(0))?;
            write(conn, "epoch", epoch.cast_unsigned())?;
            epoch.cast_unsigned()
        }
    };
    let ceilings = Ceilings {
        message: next_message - 1 + MESSAGE_BLOCK,
        user: next_user - 1 + USER_BLOCK,
    };
    write(conn, Kind::Message.key(), ceilings.message)?;
    write(conn, Kind::User.key(), ceilings.user)?;
    Ok((
        Start {
            next_message,
            next_user,
            epoch,
        },
        ceilings,
    ))
}

impl Ceilings {
    /// Raises the ceilings (in the caller's transaction) so that they stay
    /// at least half a block ahead of the highest ids of a batch.
    pub fn cover(
        &mut self,
        conn: &Connection,
        max_message: u64,
        max_user: u64,
    ) -> Result<(), StoreError> {
        let message = raised(self.message, max_message, Kind::Message);
        let user = raised(self.user, max_user, Kind::User);
        if let Some(ceiling) = message {
            write(conn, Kind::Message.key(), ceiling)?;
        }
        if let Some(ceiling) = user {
            write(conn, Kind::User.key(), ceiling)?;
        }
        self.message = message.unwrap_or(self.message);
        self.user = user.unwrap_or(self.user);
        Ok(())
    }

    /// At a clean shutdown: the next run continues right after the last ids
    /// used, without a gap.
    pub fn release(
        &mut self,
        conn: &Connection,
        next_message: u64,
        next_user: u64,
    ) -> Result<(), StoreError> {
        self.message = next_message.saturating_sub(1);
        self.user = next_user.saturating_sub(1);
        write(conn, Kind::Message.key(), self.message)?;
        write(conn, Kind::User.key(), self.user)
    }
}

/// The new ceiling for `kind`, if ids up to `used` bring the current one
/// within half a block.
fn raised(ceiling: u64, used: u64, kind: Kind) -> Option<u64> {
    (used.saturating_add(kind.block() / 2) > ceiling).then(|| used.saturating_add(kind.block()))
}

/// A ceiling (0 when there is none yet).
fn read(conn: &Connection, key: &str) -> Result<u64, StoreError> {
    Ok(meta::get(conn, key)?.map_or(0, from_sql))
}

fn write(conn: &Connection, key: &str, value: u64) -> Result<(), StoreError> {
    meta::set(conn, key, value.cast_signed())
}

fn from_sql(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        super::super::schema::prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        conn
    }

    #[test]
    fn a_restart_continues_after_the_reserved_block() {
        let conn = database();
        let (first, mut ceilings) = start(&conn, false).unwrap();
        assert_eq!((first.next_message, first.next_user), (1, 1));
        // Ids handed out but never stored (a crash before the commit).
        ceilings.cover(&conn, 10, 3).unwrap();
        let (second, _) = start(&conn, false).unwrap();
        assert!(second.next_message > 10 && second.next_user > 3);
        assert_eq!(second.epoch, first.epoch, "same database, same epoch");
    }

    #[test]
    fn the_ceiling_stays_half_a_block_ahead() {
        let conn = database();
        let (_, mut ceilings) = start(&conn, false).unwrap();
        let id = MESSAGE_BLOCK * 3;
        ceilings.cover(&conn, id, 0).unwrap();
        let (next, _) = start(&conn, false).unwrap();
        assert!(next.next_message > id + MESSAGE_BLOCK / 2);
    }

    #[test]
    fn a_clean_shutdown_leaves_no_gap() {
        let conn = database();
        let (_, mut ceilings) = start(&conn, false).unwrap();
        ceilings.release(&conn, 42, 7).unwrap();
        let (next, _) = start(&conn, false).unwrap();
        assert_eq!((next.next_message, next.next_user), (42, 7));
    }

    #[test]
    fn in_memory_message_ids_start_at_the_clock() {
        let conn = database();
        let before = u64::try_from(now_ms()).unwrap() * 1000;
        let (start, _) = start(&conn, true).unwrap();
        assert!(start.next_message >= before);
        assert_eq!(start.next_user, 1);
    }

    #[test]
    fn user_ids_continue_after_the_legacy_key() {
        let conn = database();
        write(&conn, "max_user_id", 41).unwrap();
        let (start, _) = start(&conn, false).unwrap();
        assert_eq!(start.next_user, 42);
    }
}
