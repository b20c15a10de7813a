//! The Lua scripts the cluster runs in Redis, each one atomic there.
//!
//! Modelled on Centrifugo's Redis broker: one script per publish assigns
//! the route's next sequence number, appends the entry to the route's
//! stream and publishes it, so the order every node delivers in is the
//! order Redis assigned, and a node that missed a publication finds it in
//! the stream by its number. A route's epoch is made when its sequence is
//! (first publish, or after Redis lost its data): a node that sees a new
//! epoch knows the numbers started again.

use std::sync::LazyLock;

use redis::Script;

/// Publishes one entry on a route.
///
/// KEYS: the route's meta hash, its stream, the message id counter, the
/// archive stream. ARGV: the route's channel, the JSON body, the stream's
/// length, the archive's length, an epoch to use if the route has none,
/// `1` if the entry takes a message id, `1` if it goes to the archive
/// (which is kept by message id: `<id>-0`, so a node continues it from the
/// last message its own database holds), the highest message id the node
/// has seen (ids stay above it even if Redis lost its counter). Returns
/// `{seq, id}`.
pub static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[5]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local id = 0
if ARGV[6] == '1' then
  id = redis.call('INCR', KEYS[3])
  local floor = tonumber(ARGV[8])
  if id <= floor then
    id = floor + 1
    redis.call('SET', KEYS[3], id)
  end
end
local entry = seq .. ' ' .. id .. ' ' .. epoch .. ' ' .. ARGV[2]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], seq .. '-0', 'e', entry)
if ARGV[7] == '1' then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], id .. '-0', 'e', entry)
end
redis.call('PUBLISH', ARGV[1], entry)
return {seq, id}
",
    )
});

/// Raises an id counter to at least a floor (ids this node has seen or
/// stored): if Redis lost its data, or an fsync'd second of it, its
/// counters must not hand out ids that are in the nodes' histories.
///
/// KEYS: the counter. ARGV: the floor.
pub static RAISE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
",
    )
});

/// Claims a nickname for a user on this node, unless another holds it.
///
/// KEYS: the nickname's lease, the user id counter. ARGV: the node, the
/// lease in milliseconds, the user's id if they have one already (a
/// rename), or `0` for a new id. Returns the user's id, or 0 if the
/// nickname is taken.
pub static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local id = tonumber(ARGV[3])
if id == 0 then id = redis.call('INCR', KEYS[2]) end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. id, 'PX', ARGV[2])
return id
",
    )
});

/// Renews this node's leases: its liveness key and each nickname it
/// holds, taking back any that expired while Redis was away (or lost them
/// in a restart) unless another node has it now.
///
/// KEYS: the node's liveness key, then the nicknames' leases. ARGV: the
/// lease in milliseconds, then each lease's value. Returns the indexes
/// (from 1) of the nicknames another node holds now.
pub static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
local lost = {}
for i = 2, #KEYS do
  local held = redis.call('GET', KEYS[i])
  if held == ARGV[i] or not held then
    redis.call('SET', KEYS[i], ARGV[i], 'PX', ARGV[1])
  else
    table.insert(lost, i - 1)
  end
end
return lost
",
    )
});

/// Lets go of a nickname if this node's user still holds it.
///
/// KEYS: the lease. ARGV: its value. Returns 1 if it was let go.
pub static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
",
    )
});
