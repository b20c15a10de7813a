//! The names of everything the cluster keeps in Redis, in one place.
//!
//! Every key starts with `chatroom:` so that a Redis shared with other
//! programs keeps ours apart. A *route* is what has its own total order: a
//! room (`room:<key>`, where every node with members listens) or a node's
//! inbox (`node:<id>`, direct messages for users logged in there).

/// A room's route, by folded key.
pub fn room_route(key: &str) -> String {
    format!("{ROOM_ROUTES}{key}")
}

/// What every room's route starts with.
pub const ROOM_ROUTES: &str = "room:";

/// A node's inbox route.
pub fn node_route(node: &str) -> String {
    format!("node:{node}")
}

/// The route every node listens to (presence of users in several rooms).
pub const EVERYONE_ROUTE: &str = "everyone";

/// The pub/sub channel a route's entries are published on.
pub fn channel(route: &str) -> String {
    format!("chatroom:ch:{route}")
}

/// The hash holding a route's sequence (`seq`) and its epoch (`epoch`).
pub fn meta(route: &str) -> String {
    format!("chatroom:meta:{route}")
}

/// The stream of a route's recent entries, by sequence (`<seq>-0`).
pub fn stream(route: &str) -> String {
    format!("chatroom:stream:{route}")
}

/// The route a channel name is for, if it is one of ours.
pub fn route_of_channel(channel: &str) -> Option<&str> {
    channel.strip_prefix("chatroom:ch:")
}

/// The cluster's id space: made with the counters, so a Redis that lost
/// them makes a new one.
pub const EPOCH: &str = "chatroom:epoch";

/// The cluster-wide message id counter.
pub const MESSAGE_IDS: &str = "chatroom:ids:message";

/// The cluster-wide user id counter.
pub const USER_IDS: &str = "chatroom:ids:user";

/// The stream every stored message goes through once, read by each node's
/// archive into its own history database.
pub const ARCHIVE: &str = "chatroom:archive";

/// The accounts by folded nickname (JSON).
pub const ACCOUNTS: &str = "chatroom:accounts";

/// The client certificates accounts list, by fingerprint (JSON).
pub const CERTS: &str = "chatroom:certs";

/// The bans, by `<kind> <value>` (JSON).
pub const BANS: &str = "chatroom:bans";

/// Where changes to accounts, certificates and bans are announced.
pub const ACCOUNTS_CHANNEL: &str = "chatroom:accounts:changes";

/// A nickname's lease (by folded nickname): the owning node and user id.
pub fn nick(folded: &str) -> String {
    format!("chatroom:nick:{folded}")
}

/// A node name's lease: two processes running as one node would split
/// its archive between them.
pub fn name(name: &str) -> String {
    format!("chatroom:name:{name}")
}

/// A node's liveness key, renewed with its leases.
pub fn node(node: &str) -> String {
    format!("chatroom:node:{node}")
}

/// A room's members on every node: user id to `<node> <person as JSON>`.
pub fn members(key: &str) -> String {
    format!("chatroom:members:{key}")
}

/// A room's shared state: its topic as last set on any node (`text`,
/// `by`, `at`) and its modes and ranks (`state`, JSON).
pub fn room(key: &str) -> String {
    format!("chatroom:room:{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_names_its_route() {
        let route = room_route("lobby");
        assert_eq!(route_of_channel(&channel(&route)), Some("room:lobby"));
        assert_eq!(route_of_channel("other:thing"), None);
    }
}
