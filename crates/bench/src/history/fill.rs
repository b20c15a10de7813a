//! Filling a data directory with a generated history, through the real
//! store (in this process, without the network): rooms whose sizes follow
//! Zipf's law, direct messages between fixed pairs of people, registered
//! accounts for everyone, and timestamps spread over years so that age
//! retention has something to delete.
//!
//! A fill continues where the last one stopped: the directory keeps a small
//! state file (`bench-history.json`) with the seed and layout, so one
//! directory can be grown from 100,000 to 10,000,000 messages, measured at
//! each size.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chatroom_server::store::{
    self, Location, Retention, StoredAccount, StoredKind, StoredMessage, Synchronous,
};
use serde::{Deserialize, Serialize};

use super::client::failed;
use super::corpus::{Corpus, zipf_rank};
use crate::error::BenchError;

/// The state file's name in the data directory.
pub const STATE_FILE: &str = "bench-history.json";

/// The password of every generated account.
pub const PASSWORD: &str = "bench history password";

/// Time between two generated messages: [`CAPACITY`] of them span three
/// years.
pub const SPACING_MS: i64 = 9_467;

/// How many generated messages reach the present: the first is
/// `CAPACITY x SPACING_MS` (three years) old.
pub const CAPACITY: i64 = 10_000_000;

/// Share of generated messages that are direct messages.
const DIRECT_SHARE: f64 = 0.2;

/// Messages queued before waiting for the store to catch up: two of its
/// batches.
const CHUNK: u64 = 8_192;

/// The layout of a generated history, kept beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// Seeds the text and every choice.
    pub seed: u64,
    /// Rooms (`room0` ...).
    pub rooms: u32,
    /// People (`hu0` ...), each with an account.
    pub users: u32,
    /// Pairs of people who exchange direct messages.
    pub dm_pairs: u32,
    /// The first generated person's user id.
    pub user_base: u64,
    /// The first generated message's id.
    pub first_id: u64,
    /// The id after the last message of the last fill.
    pub end_id: u64,
    /// The first generated message's timestamp (ms).
    pub t0_ms: i64,
    /// Messages generated so far.
    pub filled: u64,
}

/// What a fill did.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FillReport {
    /// Messages added by this fill.
    pub added: u64,
    /// How long it took.
    pub seconds: f64,
    /// Added per second (the store alone, `synchronous=normal`).
    pub per_s: f64,
    /// How long the store then took, idle, to pack the texts it stored as
    /// they came while the fill kept it busy (`store::texts`) and to merge
    /// the message index's segments (`store::indexer`).
    pub settling_seconds: f64,
}

impl Layout {
    /// The nickname of generated person `u`.
    pub fn nick(u: u32) -> String {
        format!("hu{u}")
    }

    /// The name of generated room `r`.
    pub fn room(r: u32) -> String {
        format!("room{r}")
    }

    /// The two people of direct-message pair `p`.
    pub fn pair(&self, p: u32) -> (u32, u32) {
        let a = p % self.users;
        let mut b = (u64::from(p) * 7_919 + 1) % u64::from(self.users);
        if b == u64::from(a) {
            b = (b + 1) % u64::from(self.users);
        }
        (a, u32::try_from(b).unwrap_or(0))
    }

    /// The ids of the history up to the last fill, first to last (runs
    /// between fills add messages of their own to it).
    pub fn ids(&self) -> std::ops::Range<u64> {
        self.first_id..self.end_id
    }

    /// The timestamp of the `i`-th generated message: spread from `t0_ms`
    /// ([`CAPACITY`] messages reach the present), never in the future.
    pub fn ts(&self, i: u64) -> i64 {
        (self.t0_ms + SPACING_MS * i64::try_from(i).unwrap_or(i64::MAX / SPACING_MS)).min(now_ms())
    }
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// The layout of the history in `dir`, if a fill made one.
pub fn load(dir: &Path) -> Result<Option<Layout>, BenchError> {
    match std::fs::read_to_string(state_path(dir)) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| failed(STATE_FILE, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(failed(STATE_FILE, e)),
    }
}

/// Grows the history in `dir` to `target` generated messages (a new
/// layout from `wanted` when there is none yet).
pub async fn fill(
    dir: &Path,
    wanted: Layout,
    target: u64,
) -> Result<(Layout, FillReport), BenchError> {
    let previous = load(dir)?;
    if let Some(had) = previous
        && (had.rooms, had.users, had.dm_pairs, had.seed)
            != (wanted.rooms, wanted.users, wanted.dm_pairs, wanted.seed)
    {
        return Err(BenchError::Invalid(format!(
            "{} holds a history of {} rooms, {} users, {} pairs (seed {}): grow it with the same settings",
            dir.display(),
            had.rooms,
            had.users,
            had.dm_pairs,
            had.seed
        )));
    }
    let (store, thread, loaded) = store::open(
        &Location::Dir(dir.to_owned()),
        Retention::default(),
        Synchronous::Normal,
        store::DEFAULT_CACHE_MIB,
    )?;
    let mut layout = match previous {
        Some(had) => had,
        None => {
            let layout = Layout {
                user_base: loaded.ids.next_user,
                first_id: loaded.ids.next_message,
                end_id: loaded.ids.next_message,
                t0_ms: now_ms() - SPACING_MS * CAPACITY,
                filled: 0,
                ..wanted
            };
            let hash =
                tokio::task::spawn_blocking(|| chatroom_server::accounts::hash_password(PASSWORD))
                    .await
                    .map_err(|e| failed("hash", e))?
                    .map_err(|e| failed("hash", e))?;
            for u in 0..layout.users {
                let nick = Layout::nick(u);
                store
                    .account(StoredAccount {
                        key: chatroom_proto::nick::fold(&nick),
                        nick,
                        hash: hash.clone(),
                        created: layout.t0_ms,
                    })
                    .await?;
            }
            layout
        }
    };
    let started = Instant::now();
    let corpus = Corpus::new();
    let mut rng = fastrand::Rng::with_seed(layout.seed ^ layout.filled);
    let mut next_id = loaded.ids.next_message;
    let added = target.saturating_sub(layout.filled);
    let mut done = 0;
    while done < added {
        let chunk = CHUNK.min(added - done);
        for _ in 0..chunk {
            let i = layout.filled + done;
            let ts = layout.ts(i);
            let text = corpus.message(&mut rng);
            let message = if layout.dm_pairs > 0 && rng.f64() < DIRECT_SHARE {
                let (mut a, mut b) = layout.pair(rng.u32(..layout.dm_pairs));
                if rng.bool() {
                    std::mem::swap(&mut a, &mut b);
                }
                StoredMessage {
                    id: next_id,
                    ts,
                    room: None,
                    sender_id: layout.user_base + u64::from(a),
                    sender_nick: Layout::nick(a),
                    recipient: Some((layout.user_base + u64::from(b), Layout::nick(b))),
                    text,
                    action: false,
                    kind: StoredKind::Message,
                    tags: Vec::new(),
                }
            } else {
                let room = Layout::room(
                    u32::try_from(zipf_rank(&mut rng, u64::from(layout.rooms))).unwrap_or(0),
                );
                let sender = rng.u32(..layout.users);
                StoredMessage {
                    id: next_id,
                    ts,
                    room: Some((room.clone(), room)),
                    sender_id: layout.user_base + u64::from(sender),
                    sender_nick: Layout::nick(sender),
                    recipient: None,
                    text,
                    action: false,
                    kind: StoredKind::Message,
                    tags: Vec::new(),
                }
            };
            store.message(message, None);
            next_id += 1;
            done += 1;
        }
        // Keep the queue (and this process's memory) bounded.
        store.flush().await?;
    }
    layout.filled += added;
    layout.end_id = next_id;
    let user_end = layout.user_base + u64::from(layout.users);
    store.release_ids(next_id, loaded.ids.next_user.max(user_end));
    store.flush().await?;
    let seconds = started.elapsed().as_secs_f64();
    let settling = Instant::now();
    store.settled().await?;
    let settling_seconds = settling.elapsed().as_secs_f64();
    drop(store);
    tokio::task::spawn_blocking(move || thread.finish())
        .await
        .map_err(|e| failed("store", e))?;
    let text = serde_json::to_string_pretty(&layout).map_err(|e| failed(STATE_FILE, e))?;
    std::fs::write(state_path(dir), text).map_err(|e| failed(STATE_FILE, e))?;
    Ok((
        layout,
        FillReport {
            added,
            seconds,
            per_s: added as f64 / seconds.max(1e-9),
            settling_seconds,
        },
    ))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
