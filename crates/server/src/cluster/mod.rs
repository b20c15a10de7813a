//! Several servers, one chat: nodes that share rooms, nicknames and direct
//! messages through Redis (`chatroom serve --cluster redis://...`).
//!
//! Modelled on Centrifugo's Redis broker. Every room message goes through
//! one Lua script ([`scripts::PUBLISH`]) that takes the room's next
//! sequence number and a cluster-wide message id, appends the entry to the
//! room's stream and publishes it; every node with members in the room
//! (the sender's own included) delivers it when it arrives, so all of them
//! deliver in the order Redis gave. A node that sees a gap in a room's
//! numbers, or whose subscription dropped, reads what it missed from the
//! stream before delivering anything newer ([`order`], [`subscriber`]).
//! Direct messages go the same way to the inbox of the node the recipient
//! is on, found through the nickname's lease ([`leases`]): a nickname is
//! held by one node at a time, renewed while its user is online and freed
//! when they leave or their node stops renewing. Every stored message also
//! goes to an archive stream that each node copies into its own history
//! database ([`archive`]), so history, search and chathistory stay local
//! reads.
//!
//! Without `--cluster` none of this runs and nothing changes.

mod accounts;
mod archive;
mod backoff;
mod envelope;
mod keys;
mod leases;
mod order;
mod publisher;
mod scripts;
mod subscriber;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use envelope::{Envelope, Recipients, SharedRoom};

use crate::event::{Event, EventKind, Person};
use crate::hub::{Audience, Hub, UserId};
use crate::metrics::ClusterMetrics;
use crate::store::Receipt;

/// How a node joins a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// The Redis server, `redis://host:port/`.
    pub url: String,
    /// This node's name, unique in the cluster and the same across its
    /// restarts: its archive reading continues where it stopped.
    pub name: String,
    /// How long a nickname (and the node's liveness) is held without
    /// renewal: how soon a dead node's users are gone.
    pub lease: Duration,
    /// Entries kept per room stream (about): how far back a node that lost
    /// its subscription can catch up.
    pub stream_length: usize,
    /// Entries kept in the archive stream (about): how long a node may be
    /// down and still copy every message into its history.
    pub archive_length: usize,
}

impl ClusterSettings {
    /// A node named `name` on the Redis at `url`, with the default lease
    /// (10 s) and stream lengths.
    pub fn new(url: &str, name: &str) -> Self {
        ClusterSettings {
            url: url.to_owned(),
            name: name.to_owned(),
            lease: Duration::from_secs(10),
            stream_length: 10_000,
            archive_length: 1_000_000,
        }
    }
}

/// Whether `name` can name a node: 1-64 letters, digits, `-`, `_` or `.`
/// (it is part of Redis keys).
pub fn valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// `url` with any password in it replaced by `***`, for logs and printed
/// configurations (`redis://:secret@host:6379/` shows as
/// `redis://:***@host:6379/`).
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

/// Why a node could not join its cluster, or a cluster operation failed.
#[derive(Debug, Error)]
pub enum ClusterError {
    /// Redis refused or could not be reached.
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The node's name cannot be used in Redis keys.
    #[error("node name {0:?} must be 1-64 letters, digits, '-', '_' or '.'")]
    Name(String),
    /// Another running node has this node's name.
    #[error(
        "another node is running as {0:?}: give each node its own name (--node-name), the same across its restarts"
    )]
    NameTaken(String),
}

/// The lease value and key this node holds for one nickname.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lease {
    key: String,
    value: String,
}

/// A message on its way to Redis.
struct Outgoing {
    /// Where it goes.
    route: Route,
    /// What it carries.
    envelope: Envelope,
    /// Whether it takes a message id.
    takes_id: bool,
    /// Told when Redis took it (the acknowledgement) or did not.
    receipt: Option<Receipt>,
    /// A user on this node who gets it back once it has its id (a direct
    /// message's sender who wants their own messages back).
    echo: Option<UserId>,
}

/// Where an outgoing entry is published.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// A room, by key.
    Room(String),
    /// The inbox of whichever node holds this (folded) nickname.
    Nick(String),
    /// Every node (presence changes of users in several rooms).
    Everyone,
}

/// The highest ids a node's own database holds: Redis's counters are
/// raised to them, so that no id in anyone's history is handed out again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdFloors {
    /// The highest message id stored.
    pub message: u64,
    /// The highest user id handed out.
    pub user: u64,
}

/// A room this node starts or stops listening to.
#[derive(Debug)]
pub enum Watch {
    /// Its first member here joined.
    Room(String),
    /// Someone here is about to join it: listen now, and say when it is
    /// done, so that nothing said after the join is missed.
    Listen(String, oneshot::Sender<()>),
    /// Its last member here left.
    Unroom(String),
}

/// How long a join waits for the node to start listening to its room
/// (Redis away: the join goes on without, and the room is caught up
/// once Redis is back).
const LISTEN_WITHIN: Duration = Duration::from_secs(2);

/// This node's membership of the cluster: what the hub calls.
pub struct Cluster {
    node: String,
    settings: ClusterSettings,
    redis: ConnectionManager,
    outgoing: mpsc::UnboundedSender<Outgoing>,
    watch: mpsc::UnboundedSender<Watch>,
    leases: Mutex<HashMap<UserId, Lease>>,
    metrics: ClusterMetrics,
    /// The highest message id this node has stored or seen handed out.
    highest_message: AtomicU64,
    /// The highest user id this node has stored or seen handed out.
    highest_user: AtomicU64,
    /// The cluster's id space (see `Hub::epoch`), as Redis said at the
    /// last (re)connection.
    epoch: AtomicU64,
}

/// The cluster's background work, started once the hub has its handle.
pub struct Running {
    outgoing: mpsc::UnboundedReceiver<Outgoing>,
    watch: mpsc::UnboundedReceiver<Watch>,
    /// The last message this node's database holds: its archive goes on
    /// after it.
    stored: u64,
}

impl Cluster {
    /// Connects to Redis (failing if it cannot be reached now) and makes
    /// this node's handle; [`Cluster::run`] starts its work.
    pub async fn connect(
        settings: ClusterSettings,
        floors: IdFloors,
    ) -> Result<(Arc<Cluster>, Running), ClusterError> {
        if !valid_node_name(&settings.name) {
            return Err(ClusterError::Name(settings.name.clone()));
        }
        let client = redis::Client::open(settings.url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let redis = client.get_connection_manager_with_config(config).await?;
        // A new identity per start: leases the last run held expire on
        // their own instead of being mistaken for this run's.
        let node = format!("{}.{:08x}", settings.name, fastrand::u32(..));
        take_name(&mut redis.clone(), &settings, &node).await?;
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let (watch, watch_rx) = mpsc::unbounded_channel();
        let cluster = Arc::new(Cluster {
            node,
            settings,
            redis,
            outgoing,
            watch,
            leases: Mutex::new(HashMap::new()),
            metrics: ClusterMetrics::new(),
            highest_message: AtomicU64::new(floors.message),
            highest_user: AtomicU64::new(floors.user),
            epoch: AtomicU64::new(0),
        });
        cluster.raise_counters().await?;
        Ok((
            cluster,
            Running {
                outgoing: outgoing_rx,
                watch: watch_rx,
                stored: floors.message,
            },
        ))
    }

    /// Starts the node's work on `tasks` until `stop`: publishing,
    /// listening, renewing leases, archiving.
    pub fn run(
        self: &Arc<Self>,
        running: Running,
        hub: &Arc<Hub>,
        tasks: &TaskTracker,
        stop: &CancellationToken,
    ) {
        tasks.spawn(publisher::run(
            self.clone(),
            hub.clone(),
            running.outgoing,
            stop.clone(),
        ));
        tasks.spawn(subscriber::run(
            self.clone(),
            hub.clone(),
            running.watch,
            stop.clone(),
        ));
        accounts::share_accounts(self, hub.accounts());
        tasks.spawn(leases::renew(self.clone(), hub.clone(), stop.clone()));
        tasks.spawn(archive::run(
            self.clone(),
            hub.store().clone(),
            running.stored,
            stop.clone(),
        ));
    }

    /// Raises Redis's id counters to the highest ids this node has seen
    /// (at start, and whenever the node reconnects: Redis may have lost
    /// data meanwhile).
    pub(super) async fn raise_counters(&self) -> redis::RedisResult<()> {
        let mut redis = self.redis.clone();
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(keys::EPOCH)
            .arg(fastrand::u64(1..))
            .arg("NX")
            .ignore()
            .get(keys::EPOCH);
        let (epoch,): (u64,) = pipe.query_async(&mut redis).await?;
        self.epoch.store(epoch, Ordering::Relaxed);
        for (counter, floor) in [
            (keys::MESSAGE_IDS, &self.highest_message),
            (keys::USER_IDS, &self.highest_user),
        ] {
            scripts::RAISE
                .key(counter)
                .arg(floor.load(Ordering::Relaxed))
                .invoke_async::<()>(&mut redis)
                .await?;
        }
        Ok(())
    }

    /// The cluster's id space: message ids do not repeat within it.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Notes ids seen handed out or stored (see [`Cluster::raise_counters`]).
    pub(super) fn saw_ids(&self, message: u64, user: u64) {
        self.highest_message.fetch_max(message, Ordering::Relaxed);
        self.highest_user.fetch_max(user, Ordering::Relaxed);
    }

    /// The node's instruments, for `/metrics`.
    pub(crate) fn metrics(&self) -> &ClusterMetrics {
        &self.metrics
    }

    /// Whether Redis answers a `PING` (the readiness probe).
    pub async fn ping(&self) -> Result<(), ClusterError> {
        let started = Instant::now();
        let answer: redis::RedisResult<String> = redis::cmd("PING")
            .query_async(&mut self.redis.clone())
            .await;
        self.metrics.round_trip(started.elapsed(), answer.is_ok());
        answer?;
        Ok(())
    }

    /// Starts listening to room `key` and waits until this node is
    /// subscribed (or [`LISTEN_WITHIN`] passed): from then on it gets every
    /// message of the room.
    pub async fn listen(&self, key: &str) {
        let (done, listening) = oneshot::channel();
        if self.watch.send(Watch::Listen(key.to_owned(), done)).is_ok() {
            let _ = tokio::time::timeout(LISTEN_WITHIN, listening).await;
        }
    }

    /// This run's identity in the cluster (its name and a random part).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Sends a room's `envelope` to every node with members in `key` (this
    /// one too, which delivers it when Redis has ordered it); `receipt` is
    /// told when Redis has it.
    pub fn to_room(&self, key: &str, envelope: Envelope, receipt: Option<Receipt>) {
        let takes_id = envelope.stored.is_some() || takes_id(&envelope);
        self.send(Outgoing {
            route: Route::Room(key.to_owned()),
            envelope,
            takes_id,
            receipt,
            echo: None,
        });
    }

    /// Sends a direct message's `envelope` to the node where `nick`
    /// (folded) is logged in; `echo` (its sender) gets it back here.
    pub fn to_nick(
        &self,
        nick: &str,
        envelope: Envelope,
        receipt: Option<Receipt>,
        echo: Option<UserId>,
    ) {
        self.send(Outgoing {
            route: Route::Nick(nick.to_owned()),
            envelope,
            takes_id: true,
            receipt,
            echo,
        });
    }

    /// Passes on to the other nodes what happened here to `audience`, as
    /// this node delivered it to its own users: presence and room changes
    /// (messages go through [`Cluster::to_room`] instead, direct ones
    /// through [`Cluster::to_nick`], and what only this node's users can
    /// see stays here).
    pub fn pass_on(&self, audience: Audience<'_>, event: &Event, room: Option<SharedRoom>) {
        if !passed_on(event.kind()) {
            return;
        }
        let (route, to) = match audience {
            Audience::Room { key, .. } => (
                Route::Room(key.to_owned()),
                Recipients::Room(key.to_owned()),
            ),
            Audience::Sharing { user, rooms } => (
                Route::Everyone,
                Recipients::Sharing {
                    user,
                    rooms: rooms.to_vec(),
                },
            ),
            Audience::Everyone => (Route::Everyone, Recipients::Everyone),
            Audience::User(_) | Audience::Account { .. } => return,
        };
        self.send(Outgoing {
            route,
            envelope: Envelope {
                origin: self.node.clone(),
                except: None,
                to,
                ts: event.ts(),
                kind: event.kind().clone(),
                stored: None,
                delivered_at_origin: true,
                room,
            },
            takes_id: false,
            receipt: None,
            echo: None,
        });
    }

    fn send(&self, outgoing: Outgoing) {
        if let Err(mpsc::error::SendError(outgoing)) = self.outgoing.send(outgoing) {
            // The publisher is gone: the server is stopping.
            if let Some(receipt) = outgoing.receipt {
                receipt(crate::store::Outcome {
                    msg_id: 0,
                    ts: outgoing.envelope.ts,
                    error: Some(crate::store::Failure::NotSent("the server is stopping")),
                });
            }
        }
    }

    /// Starts or stops listening to a room (the hub calls this when a
    /// room's first member here joins and its last leaves); never waits.
    pub fn watch(&self, watch: Watch) {
        // Gone only when the server is stopping.
        let _ = self.watch.send(watch);
    }
}

/// A room as Redis keeps it, for a node that starts listening to it.
#[derive(Debug, Clone, Default)]
pub struct RoomState {
    /// Who is in it, on which node.
    pub members: Vec<(String, Person)>,
    /// Its topic, if one was set.
    pub topic: Option<SharedTopic>,
    /// Its modes and ranks, if they were shared.
    pub shared: Option<SharedRoom>,
}

/// Takes this node's name for run `node`: a node killed a moment ago
/// still holds it until its lease runs out, so this waits that long
/// before deciding another node has it.
async fn take_name(
    redis: &mut ConnectionManager,
    settings: &ClusterSettings,
    node: &str,
) -> Result<(), ClusterError> {
    let key = keys::name(&settings.name);
    let lease_ms = u64::try_from(settings.lease.as_millis()).unwrap_or(u64::MAX);
    let deadline = Instant::now() + settings.lease + Duration::from_secs(1);
    loop {
        let taken: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(node)
            .arg("NX")
            .arg("PX")
            .arg(lease_ms)
            .query_async(redis)
            .await?;
        if taken.is_some() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ClusterError::NameTaken(settings.name.clone()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A room's topic as Redis keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedTopic {
    /// The text.
    pub text: String,
    /// Who set it.
    pub set_by: Option<String>,
    /// When (ms since the epoch).
    pub set_at: Option<i64>,
}

impl Cluster {
    /// Who is in room `key` on every node (`(node, person)`), its topic
    /// and its modes and ranks, as Redis keeps them.
    pub async fn room_state(&self, key: &str) -> redis::RedisResult<RoomState> {
        let mut pipe = redis::pipe();
        pipe.hgetall(keys::members(key)).hgetall(keys::room(key));
        let (members, topic): (Vec<(String, String)>, HashMap<String, String>) =
            pipe.query_async(&mut self.redis.clone()).await?;
        let members = members
            .iter()
            .filter_map(|(_, value)| {
                let (node, person) = value.split_once(' ')?;
                Some((node.to_owned(), serde_json::from_str(person).ok()?))
            })
            .collect();
        let shared = topic
            .get("state")
            .and_then(|state| serde_json::from_str(state).ok());
        let topic = topic.get("text").map(|text| SharedTopic {
            text: text.clone(),
            set_by: topic.get("by").cloned(),
            set_at: topic.get("at").and_then(|at| at.parse().ok()),
        });
        Ok(RoomState {
            members,
            topic,
            shared,
        })
    }
}

/// Whether other nodes hear of an event of this kind that happened here
/// (not what another node counts for itself, like presence summaries, nor
/// what is only for the user it happened to).
fn passed_on(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Message { .. }
            | EventKind::Direct { .. }
            | EventKind::Summary { .. }
            | EventKind::OwnHost { .. }
            | EventKind::Invited { .. }
            | EventKind::Online { .. }
            | EventKind::Offline { .. }
            | EventKind::ReadMarker { .. }
    )
}

/// Whether an event carries a message id even when nothing of it is kept.
fn takes_id(envelope: &Envelope) -> bool {
    matches!(
        envelope.kind,
        EventKind::Message { .. }
            | EventKind::Direct { .. }
            | EventKind::TagMsg { .. }
            | EventKind::Topic { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_do_not_show() {
        assert_eq!(
            redacted("redis://:s3cret@10.0.0.5:6379/"),
            "redis://:***@10.0.0.5:6379/"
        );
        assert_eq!(redacted("redis://app:pw@db/2"), "redis://app:***@db/2");
        assert_eq!(
            redacted("redis://127.0.0.1:6379/"),
            "redis://127.0.0.1:6379/"
        );
        assert_eq!(redacted("not a url"), "not a url");
    }
}
